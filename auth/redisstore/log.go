package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// The Redis client has one logger for the whole process, which writes to
// standard error in a format of its own. The first store given a logger
// routes it through slog; from then on it writes to the logger of the
// store opened last (in a program, the one store).
var (
	clientLogOnce sync.Once
	clientLogTo   atomic.Pointer[slog.Logger]
)

func routeClientLog(log *slog.Logger) {
	clientLogTo.Store(log)
	clientLogOnce.Do(func() { redis.SetLogger(clientLog{}) })
}

// clientLog is the Redis client's logger, through slog.
type clientLog struct{}

func (clientLog) Printf(ctx context.Context, format string, v ...any) {
	if log := clientLogTo.Load(); log != nil {
		log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "redis client")
	}
}
