package auth

import (
	"slices"
	"testing"
)

func TestClaimGroups(t *testing.T) {
	tests := []struct {
		name    string
		claims  string
		claim   string
		want    []string
		wantErr bool
		absent  bool // no such claim
	}{
		{name: "a list", claims: `{"groups": ["staff", "admins"]}`, claim: "groups", want: []string{"staff", "admins"}},
		{name: "one string", claims: `{"groups": "staff"}`, claim: "groups", want: []string{"staff"}},
		{name: "an empty string", claims: `{"groups": ""}`, claim: "groups"},
		{name: "missing", claims: `{"sub": "x"}`, claim: "groups", absent: true},
		{name: "null", claims: `{"groups": null}`, claim: "groups"},
		{name: "another claim name", claims: `{"roles": ["a"]}`, claim: "roles", want: []string{"a"}},
		{name: "Auth0 namespaced claim", claims: `{"https://example.com/groups": ["a"]}`, claim: "https://example.com/groups", want: []string{"a"}},
		{name: "Keycloak nested roles", claims: `{"realm_access": {"roles": ["x", "y"]}}`, claim: "realm_access.roles", want: []string{"x", "y"}},
		{name: "a name with dots wins over a path", claims: `{"a.b": ["name"], "a": {"b": ["path"]}}`, claim: "a.b", want: []string{"name"}},
		{name: "deeper path", claims: `{"a": {"b": {"c": "deep"}}}`, claim: "a.b.c", want: []string{"deep"}},
		{name: "path through a non-object", claims: `{"a": "x"}`, claim: "a.b", absent: true},
		{name: "numbers", claims: `{"groups": [1, 2]}`, claim: "groups", wantErr: true},
		{name: "an object", claims: `{"groups": {"a": 1}}`, claim: "groups", wantErr: true},
		{name: "not JSON", claims: `{`, claim: "groups", wantErr: true, absent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := claimGroups([]byte(tt.claims), tt.claim)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if found == tt.absent {
				t.Errorf("found = %v, want %v", found, !tt.absent)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
