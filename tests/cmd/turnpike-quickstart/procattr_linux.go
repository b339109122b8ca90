package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in its own process group (the terminal's
// SIGINT goes to the quickstart only) and asks the kernel to SIGTERM it if
// the quickstart dies without stopping it, so a killed quickstart leaves no
// sidecar or gateway behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
