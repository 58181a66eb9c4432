// Command sluice-orphan-guard runs one command and makes sure it does not outlive the process that
// started the guard, so a test run that is killed (SIGKILL, a crashed vitest worker) leaves no
// kube-apiserver or etcd behind.
//
//	sluice-orphan-guard COMMAND [ARG...]
//
// SIGTERM and SIGINT are passed on to the command; when the guard's parent goes away the command gets
// SIGTERM, then SIGKILL after a grace period. The guard exits with the command's exit code.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

const (
	// parentPollInterval bounds how long an orphaned command keeps running.
	parentPollInterval = 250 * time.Millisecond
	// killGrace is how long the command gets to stop after SIGTERM before SIGKILL.
	killGrace = 5 * time.Second
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sluice-orphan-guard COMMAND [ARG...]")
		os.Exit(2)
	}
	// Pdeathsig fires when the thread that forked the child exits, not the process: pin the main
	// goroutine to its thread so that thread lives as long as the guard.
	runtime.LockOSThread()
	parent := os.Getppid()

	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	// Covers the guard itself being SIGKILLed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice-orphan-guard:", err)
		os.Exit(127)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	ticker := time.NewTicker(parentPollInterval)
	defer ticker.Stop()
	var killAt <-chan time.Time
	stop := func(sig os.Signal) {
		_ = cmd.Process.Signal(sig)
		if killAt == nil {
			killAt = time.After(killGrace)
		}
	}
	for {
		select {
		case err := <-done:
			os.Exit(exitCode(err))
		case sig := <-signals:
			stop(sig)
		case <-ticker.C:
			if os.Getppid() != parent {
				stop(syscall.SIGTERM)
			}
		case <-killAt:
			_ = cmd.Process.Kill()
		}
	}
}

func exitCode(err error) int {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal())
		}
		return exitErr.ExitCode()
	default:
		return 1
	}
}
