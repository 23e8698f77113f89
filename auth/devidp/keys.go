package devidp

import (
	jose "github.com/go-jose/go-jose/v4"
)

// SignatureAlgorithm is the algorithm of the provider's signing key.
func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }

// Key is the private key that signs ID tokens.
func (k *signingKey) Key() any { return k.key }

// ID is the key's "kid".
func (k *signingKey) ID() string { return k.id }

// publicKey is the signing key as published at /keys.
type publicKey struct{ signing *signingKey }

func (k publicKey) ID() string                         { return k.signing.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.signing.key.PublicKey }
