package redisstore

import (
	"context"
	"time"
)

// claimScript claims KEYS[1] until ARGV[2] (Unix ms) unless it is already
// claimed beyond ARGV[1], the store's now; a claim that ends by now is not
// kept. The end is kept in the value because the store's clock, not
// Redis's, decides when a claim has lapsed.
const claimScript = `
local claimed = redis.call('GET', KEYS[1])
if claimed and tonumber(claimed) > tonumber(ARGV[1]) then
	return 0
end
if tonumber(ARGV[2]) > tonumber(ARGV[1]) then
	redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[2])
end
return 1
`

// Claim marks id as used until expires, and reports false when it was
// already claimed and that claim has not lapsed by the store's clock.
func (s *Store) Claim(ctx context.Context, id string, expires time.Time) (bool, error) {
	now := s.now()
	n, err := s.claim.Run(ctx, s.client, []string{s.claimKey(id)}, now.UnixMilli(), unixMilliCeil(expires)).Int()
	if err != nil {
		return false, fail("claim id", err)
	}
	return n == 1, nil
}
