package redisstore

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"

	"latchkey/auth"
)

// fail wraps err with what was being done, and with
// auth.ErrStoreUnavailable when Redis could not be reached.
func fail(doing string, err error) error {
	if unreachable(err) {
		return fmt.Errorf("%s: %w: %w", doing, auth.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// unreachable reports whether err says Redis could not be reached or
// cannot serve for now, rather than that a command was wrong.
func unreachable(err error) bool {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrPoolExhausted),
		errors.Is(err, redis.ErrClosed):
		return true
	}
	// Redis up but unable to serve for now: loading its data, a replica
	// after a failover (READONLY), at its memory limit (OOM), unable to
	// persist (MISCONF), busy with a script (BUSY), short of replicas
	// (NOREPLICAS), out of connections.
	for _, prefix := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "OOM", "MISCONF", "BUSY", "NOREPLICAS", "max number of clients reached"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}
