package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/server"
)

// minHold is the poll hold serve gives the server for --hold 0.
// server.Config treats a zero hold as "the default" (25 s), so the
// shortest real hold is used instead: a poll that finds nothing looks
// once, sees the hold already over, looks once more (the "last look" every
// held poll takes) and answers 204. Each empty poll therefore costs what
// an agent's poll costs when it is woken by its hold, without the wait.
const minHold = time.Nanosecond

// serveCommand runs the real job server over a seeded database until
// SIGINT or SIGTERM.
//
// Every request is logged as `haven server` logs it (JSON, level info), by
// default to os.DevNull: each log line is built and written, as in
// production, but not kept.
func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		o          storeFlags
		listen     string
		hold       time.Duration
		cpuProfile string
		logFile    string
	)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.bind(fs)
	fs.StringVar(&listen, "listen", "127.0.0.1:8000", "address to listen on")
	fs.DurationVar(&hold, "hold", 0, "how long an agent's poll waits for work; 0 answers 204 at once when there is none")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	fs.StringVar(&logFile, "log-file", os.DevNull, "file the server's JSON request log is appended to")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if hold < 0 {
		return haven.Errorf(haven.EINVALID, "--hold must not be negative (got %s)", hold)
	}
	if hold == 0 {
		hold = minHold
	}
	lf, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "cannot open the log file %s: %v; choose another with --log-file", logFile, err)
	}
	defer lf.Close()

	cfg := o.config()
	cfg.Logger = slog.New(slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Hold = hold
	st, where, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(cfg, st)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "cannot listen on %s: %v; choose another address with --listen", listen, err)
	}
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			l.Close()
			return err
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "job server listening on http://%s (database: %s, poll hold: %s)\n", l.Addr(), where, hold)
	return srv.Serve(ctx, l)
}

// startCPUProfile starts profiling into file; stop ends it and closes
// the file.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, haven.Errorf(haven.EINVALID, "cannot create the CPU profile %s: %v; choose another file with --cpuprofile", file, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// helloBody is what the hello-world server answers.
const helloBody = "Hello, world!\n"

// helloHandler is the ceiling: the least a Go HTTP handler can do.
func helloHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, helloBody)
}

// helloCommand serves helloHandler with net/http until SIGINT or SIGTERM.
func helloCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var listen string
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&listen, "listen", "127.0.0.1:8001", "address to listen on")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return haven.Errorf(haven.EINVALID, "cannot listen on %s: %v; choose another address with --listen", listen, err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(helloHandler), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "hello-world server listening on http://%s\n", l.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
