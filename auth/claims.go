package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// groups reads user's groups from userinfo (user.ClaimsJSON), else from
// the ID token's claims (nil at a refresh, which has none), else keeps
// previous. A claim that is not a list of strings is logged and gives no
// groups: a rule that needs them then refuses, while a login that needs
// none works.
func (p *Provider) groups(ctx context.Context, user User, idToken *oidc.IDTokenClaims, previous []string) []string {
	claim := p.cfg.GroupsClaim
	if claim == "" {
		return nil
	}
	groups, found, err := claimGroups([]byte(user.ClaimsJSON), claim)
	if !found && err == nil && idToken != nil {
		var raw []byte
		if raw, err = json.Marshal(idToken); err == nil {
			groups, found, err = claimGroups(raw, claim)
		}
	}
	switch {
	case err != nil:
		p.cfg.Logger.WarnContext(ctx, "the groups claim cannot be read: the user has no groups", "claim", claim, "sub", user.Subject, "err", err)
		return nil
	case !found:
		return previous
	}
	return groups
}

// claimGroups returns the groups in the claim named claim of a JSON
// object of claims (the ID token's or the userinfo response): a list of
// strings, or a single string; found says whether the claim is there at
// all. A name that is not a claim but has dots is a path into nested
// objects ("realm_access.roles" for Keycloak); a name that is a claim is
// used as it is, so Auth0's namespaced claims
// ("https://example.com/groups") work. A null claim gives no groups.
func claimGroups(claimsJSON []byte, claim string) (groups []string, found bool, err error) {
	raw, ok, err := lookupClaim(claimsJSON, claim)
	if err != nil || !ok {
		return nil, false, err
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
		return nil, true, nil
	case len(raw) > 0 && raw[0] == '"':
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, true, fmt.Errorf("claim %q: %w", claim, err)
		}
		if one == "" {
			return nil, true, nil
		}
		return []string{one}, true, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, true, fmt.Errorf("claim %q is not a string or a list of strings", claim)
	}
	return list, true, nil
}

func lookupClaim(claimsJSON []byte, claim string) (json.RawMessage, bool, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(claimsJSON, &obj); err != nil {
		return nil, false, fmt.Errorf("read claims: %w", err)
	}
	if raw, ok := obj[claim]; ok {
		return raw, true, nil
	}
	first, rest, nested := strings.Cut(claim, ".")
	for nested {
		raw, ok := obj[first]
		if !ok {
			return nil, false, nil
		}
		obj = nil
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return nil, false, nil // not an object: no such path
		}
		if raw, ok := obj[rest]; ok {
			return raw, true, nil
		}
		first, rest, nested = strings.Cut(rest, ".")
	}
	return nil, false, nil
}
