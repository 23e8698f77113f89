package proxy

import (
	"strings"
	"testing"
)

func TestPolicyAllows(t *testing.T) {
	verified := func(email string, groups ...string) *Identity {
		return &Identity{Subject: "s", Email: email, EmailVerified: true, Groups: groups}
	}
	tests := []struct {
		name       string
		cfg        PolicyConfig
		id         *Identity
		wantReason string // "" means allowed
	}{
		{name: "no rules: anyone signed in", id: &Identity{Subject: "s"}},
		{name: "listed email", cfg: PolicyConfig{Emails: []string{"ada@example.com"}}, id: verified("ada@example.com")},
		{name: "listed email, other case", cfg: PolicyConfig{Emails: []string{"Ada@Example.com"}}, id: verified("ADA@example.COM")},
		{name: "email not listed", cfg: PolicyConfig{Emails: []string{"ada@example.com"}}, id: verified("eve@example.com"), wantReason: ReasonEmailNotAllowed},
		{name: "listed email, not verified", cfg: PolicyConfig{Emails: []string{"ada@example.com"}}, id: &Identity{Email: "ada@example.com"}, wantReason: ReasonEmailNotVerified},
		{name: "no email", cfg: PolicyConfig{Emails: []string{"ada@example.com"}}, id: &Identity{Subject: "s", EmailVerified: true}, wantReason: ReasonNoEmail},
		{name: "listed domain", cfg: PolicyConfig{EmailDomains: []string{"example.com"}}, id: verified("grace@example.com")},
		{name: "listed domain, other case", cfg: PolicyConfig{EmailDomains: []string{"Example.COM"}}, id: verified("grace@EXAMPLE.com")},
		{name: "listed domain, not verified", cfg: PolicyConfig{EmailDomains: []string{"example.com"}}, id: &Identity{Email: "grace@example.com"}, wantReason: ReasonEmailNotVerified},
		{name: "a subdomain is another domain", cfg: PolicyConfig{EmailDomains: []string{"example.com"}}, id: verified("grace@eu.example.com"), wantReason: ReasonEmailNotAllowed},
		{name: "a domain that ends the same", cfg: PolicyConfig{EmailDomains: []string{"example.com"}}, id: verified("grace@badexample.com"), wantReason: ReasonEmailNotAllowed},
		{name: "the domain after the last @", cfg: PolicyConfig{EmailDomains: []string{"example.com"}}, id: verified(`"eve@example.com"@evil.example`), wantReason: ReasonEmailNotAllowed},
		{name: "the domain after the last @, allowed", cfg: PolicyConfig{EmailDomains: []string{"example.com"}}, id: verified(`"x@evil.example"@example.com`)},
		{name: "either an email or a domain", cfg: PolicyConfig{Emails: []string{"contractor@gmail.com"}, EmailDomains: []string{"example.com"}}, id: verified("contractor@gmail.com")},
		{name: "in a group", cfg: PolicyConfig{Groups: []string{"admins", "staff"}}, id: &Identity{Groups: []string{"dev", "staff"}}},
		{name: "in a group, no email needed", cfg: PolicyConfig{Groups: []string{"staff"}}, id: &Identity{Groups: []string{"staff"}}},
		{name: "groups are exact", cfg: PolicyConfig{Groups: []string{"staff"}}, id: verified("a@b.c", "Staff", "staff-x"), wantReason: ReasonNotInGroup},
		{name: "no groups", cfg: PolicyConfig{Groups: []string{"staff"}}, id: verified("a@b.c"), wantReason: ReasonNotInGroup},
		{name: "both rules, both met", cfg: PolicyConfig{EmailDomains: []string{"example.com"}, Groups: []string{"staff"}}, id: verified("ada@example.com", "staff")},
		{name: "both rules, group missing", cfg: PolicyConfig{EmailDomains: []string{"example.com"}, Groups: []string{"staff"}}, id: verified("ada@example.com"), wantReason: ReasonNotInGroup},
		{name: "both rules, email not allowed", cfg: PolicyConfig{EmailDomains: []string{"example.com"}, Groups: []string{"staff"}}, id: verified("ada@other.example", "staff"), wantReason: ReasonEmailNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ok, reason := p.Allows(tt.id)
			if ok != (tt.wantReason == "") || reason != tt.wantReason {
				t.Errorf("Allows = %v, %q; want reason %q", ok, reason, tt.wantReason)
			}
		})
	}
}

func TestPolicyOpen(t *testing.T) {
	open, _ := NewPolicy(PolicyConfig{})
	closed, _ := NewPolicy(PolicyConfig{Groups: []string{"x"}})
	var none *Policy
	if !open.Open() || !none.Open() || closed.Open() {
		t.Errorf("Open: %v %v %v", open.Open(), none.Open(), closed.Open())
	}
	if ok, _ := none.Allows(&Identity{}); !ok {
		t.Error("a nil policy refused")
	}
}

func TestPolicyAllocations(t *testing.T) {
	p, _ := NewPolicy(PolicyConfig{Emails: []string{"ada@example.com"}, EmailDomains: []string{"example.com"}, Groups: []string{"staff"}})
	id := &Identity{Email: "grace@example.com", EmailVerified: true, Groups: []string{"dev", "staff"}}
	if n := testing.AllocsPerRun(100, func() { p.Allows(id) }); n != 0 {
		t.Errorf("Allows allocates %v times", n)
	}
}

func TestNewPolicyRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  PolicyConfig
		want string
	}{
		{name: "email without @", cfg: PolicyConfig{Emails: []string{"ada"}}, want: `"ada" is not an email address`},
		{name: "email without a domain", cfg: PolicyConfig{Emails: []string{"ada@"}}, want: "not an email address"},
		{name: "domain with @", cfg: PolicyConfig{EmailDomains: []string{"@example.com"}}, want: "without @ (example.com)"},
		{name: "wildcard domain", cfg: PolicyConfig{EmailDomains: []string{"*.example.com"}}, want: "wildcards"},
		{name: "star for any", cfg: PolicyConfig{EmailDomains: []string{"*"}}, want: "an empty list allows any"},
		{name: "domain with a dot first", cfg: PolicyConfig{EmailDomains: []string{".example.com"}}, want: "not a domain name"},
		{name: "empty group", cfg: PolicyConfig{Groups: []string{""}}, want: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPolicy(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
