// Command notes is a small app to put behind latchkey: a page of notes,
// each user's own, written with an htmx form. It learns who is asking
// from latchkey, verifying the signed assertion against latchkey's keys
// rather than trusting the network, and shows latchkey's login box in its
// own page.
//
//	go run ./examples/notes                    # the app, on 127.0.0.1:8080
//	UPSTREAM=http://127.0.0.1:8080 go run .    # latchkey in front, on localhost:3000
//
// Then open http://localhost:3000. See "Protect your app" in README.md.
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
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Stdout, os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "notes: %v\n", err)
		os.Exit(1)
	}
}

// run serves the app until ctx ends. listening, when not nil, is called
// with the address once the app accepts connections.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, listening func(addr string)) error {
	fs := flag.NewFlagSet("notes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on: latchkey's UPSTREAM")
	latchkey := fs.String("latchkey", "http://localhost:3000", "latchkey's BASE_URL: the assertion's issuer, and where its keys are")
	audience := fs.String("audience", "", "the assertion's audience, latchkey's name for this app (default: http://ADDR, as latchkey names UPSTREAM)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer l.Close()
	aud := *audience
	if aud == "" {
		aud = "http://" + l.Addr().String()
	}
	app, err := newApp(appConfig{Issuer: *latchkey, Audience: aud, Log: log})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Fprintf(stdout, "notes: listening on http://%s, behind latchkey at %s\n", l.Addr(), *latchkey)
	if listening != nil {
		listening(l.Addr().String())
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
