package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/impact-svc/impact/server"
)

// reloadOnHUP reloads the tokens file at path into tokens on every SIGHUP
// until stop is called: the way to add or revoke a token without a
// restart. A file that fails a check leaves the tokens as they were, and
// the error is logged. Without a tokens file (tokens nil) SIGHUP is only
// logged: it must not stop impactd as it would by default.
func reloadOnHUP(log *slog.Logger, path string, tokens *server.Tokens) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			if tokens == nil {
				log.Warn("SIGHUP: no --auth-tokens file to reload")
				continue
			}
			n, err := tokens.Reload(path)
			if err != nil {
				log.Error("tokens file not reloaded: the previous tokens stay in force", "file", path, "err", err)
				continue
			}
			log.Info("tokens file reloaded", "file", path, "tokens", n)
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
