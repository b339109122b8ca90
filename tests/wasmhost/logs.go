package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// LogEntry is one recorded log line.
type LogEntry struct {
	VM      int      // worker index
	Source  string   // "proxy_log", "stdout", "stderr" or "host"
	Level   LogLevel // for stdout/stderr: info/error, as the spec maps them
	Message string
}

// logRing keeps the most recent entries and forwards every entry to the slog.Logger.
type logRing struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    []LogEntry
	start  int
	max    int
}

func newLogRing(max int, logger *slog.Logger) *logRing {
	return &logRing{max: max, logger: logger}
}

func (r *logRing) add(e LogEntry) {
	r.logger.Log(context.Background(), e.Level.slog(), e.Message, "vm", e.VM, "source", e.Source)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < r.max {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % r.max
}

func (r *logRing) host(level slog.Level, vm int, msg string, args ...any) {
	l := LogInfo
	switch {
	case level >= slog.LevelError:
		l = LogError
	case level >= slog.LevelWarn:
		l = LogWarn
	case level < slog.LevelInfo:
		l = LogDebug
	}
	r.logger.Log(context.Background(), level, msg, append([]any{"vm", vm, "source", "host"}, args...)...)
	line := msg
	if len(args) > 0 {
		line = fmt.Sprint(append([]any{msg, " "}, args...)...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := LogEntry{VM: vm, Source: "host", Level: l, Message: line}
	if len(r.buf) < r.max {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % r.max
}

func (r *logRing) entries() []LogEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]LogEntry, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// guestOutput is a VM's stdout or stderr: complete lines become log entries, and stderr keeps a
// tail so a trap report can show the Go panic message that preceded it.
type guestOutput struct {
	vm     int
	source string
	level  LogLevel
	ring   *logRing
	mu     sync.Mutex
	line   []byte
	tail   []byte
}

const stderrTail = 8 << 10

func (o *guestOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.source == "stderr" {
		o.tail = append(o.tail, p...)
		if len(o.tail) > stderrTail {
			o.tail = append(o.tail[:0], o.tail[len(o.tail)-stderrTail:]...)
		}
	}
	o.line = append(o.line, p...)
	for {
		i := bytes.IndexByte(o.line, '\n')
		if i < 0 {
			break
		}
		o.ring.add(LogEntry{VM: o.vm, Source: o.source, Level: o.level, Message: string(o.line[:i])})
		o.line = o.line[i+1:]
	}
	return len(p), nil
}

// takeTail returns and clears the stderr tail.
func (o *guestOutput) takeTail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := string(o.tail)
	o.tail = o.tail[:0]
	return s
}
