package proxy

import (
	"fmt"
	"strings"
)

// PolicyConfig says who may use the app once signed in (ALLOWED_EMAILS,
// ALLOWED_EMAIL_DOMAINS, ALLOWED_GROUPS). With all lists empty, anyone
// who signs in may.
type PolicyConfig struct {
	// Emails are addresses allowed, compared without regard to case.
	Emails []string
	// EmailDomains are domains whose addresses are allowed: the part
	// after the last '@', exactly. Subdomains are not included: list
	// them (a.example.com does not come with example.com).
	EmailDomains []string
	// Groups are groups whose members are allowed, compared exactly.
	Groups []string
}

// Policy decides whether a signed-in user may use the app. An email rule
// (Emails or EmailDomains) admits a verified address that is listed or in
// a listed domain; a group rule admits a member of a listed group; with
// both, a user must satisfy both. It is meant to be asked on every
// request, so that a change of rules applies without signing in again:
// the lists are sets, and a decision allocates nothing.
type Policy struct {
	emails  map[string]struct{}
	domains map[string]struct{}
	groups  map[string]struct{}
}

// The reasons a Policy refuses, in words for the log and the page that
// tells the user.
const (
	ReasonNoEmail          = "the provider gave no email address"
	ReasonEmailNotVerified = "the provider has not verified the email address"
	ReasonEmailNotAllowed  = "the email address is not one of those allowed"
	ReasonNotInGroup       = "the account is not in a group that is allowed"
)

// NewPolicy checks and compiles cfg. Its errors quote the bad entry.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	p := &Policy{}
	for _, e := range cfg.Emails {
		local, domain, ok := cutLast(e, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(e, " \t,") {
			return nil, fmt.Errorf("allowed email %q is not an email address", e)
		}
		p.emails = addTo(p.emails, strings.ToLower(e))
	}
	for _, d := range cfg.EmailDomains {
		switch {
		case strings.HasPrefix(d, "@"):
			return nil, fmt.Errorf("allowed email domain %q: write the domain without @ (%s)", d, strings.TrimPrefix(d, "@"))
		case strings.Contains(d, "*"):
			return nil, fmt.Errorf("allowed email domain %q: wildcards are not supported; list each domain (an empty list allows any)", d)
		case d == "" || strings.ContainsAny(d, "@ \t,/") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, "."):
			return nil, fmt.Errorf("allowed email domain %q is not a domain name", d)
		}
		p.domains = addTo(p.domains, strings.ToLower(d))
	}
	for _, g := range cfg.Groups {
		if g == "" {
			return nil, fmt.Errorf("allowed group %q is empty", g)
		}
		p.groups = addTo(p.groups, g)
	}
	return p, nil
}

func addTo(set map[string]struct{}, v string) map[string]struct{} {
	if set == nil {
		set = make(map[string]struct{})
	}
	set[v] = struct{}{}
	return set
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (string, string, bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// Open reports whether anyone signed in is allowed.
func (p *Policy) Open() bool {
	return p == nil || (len(p.emails) == 0 && len(p.domains) == 0 && len(p.groups) == 0)
}

// Allows reports whether id may use the app, and if not, why (one of
// the Reason constants).
func (p *Policy) Allows(id *Identity) (bool, string) {
	if p.Open() {
		return true, ""
	}
	if len(p.emails) > 0 || len(p.domains) > 0 {
		switch {
		case id.Email == "":
			return false, ReasonNoEmail
		case !id.EmailVerified:
			return false, ReasonEmailNotVerified
		}
		email := strings.ToLower(id.Email) // allocates only if it has upper case
		_, listed := p.emails[email]
		if !listed {
			_, domain, _ := cutLast(email, "@")
			_, listed = p.domains[domain]
		}
		if !listed {
			return false, ReasonEmailNotAllowed
		}
	}
	if len(p.groups) > 0 {
		member := false
		for _, g := range id.Groups {
			if _, ok := p.groups[g]; ok {
				member = true
				break
			}
		}
		if !member {
			return false, ReasonNotInGroup
		}
	}
	return true, ""
}
