package main

import "embed"

// assetFiles holds everything under assets/, served at /assets/.
//
//go:embed assets
var assetFiles embed.FS
