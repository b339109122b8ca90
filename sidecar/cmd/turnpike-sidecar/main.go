// Command turnpike-sidecar owns Turnpike's state in Redis and serves the
// Tyk-compatible Gateway API and the Filter API. Run with --help for the
// flags; see sidecar/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/turnpike-dev/turnpike/sidecar/internal/app"
	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
)

func main() {
	cfg, err := config.Parse(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, config.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "turnpike-sidecar: %v\n(run turnpike-sidecar --help for the flags)\n", err)
		os.Exit(2)
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	log := slog.New(h)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg, log); err != nil {
		log.Error("turnpike-sidecar stopped", "error", err)
		os.Exit(1)
	}
}
