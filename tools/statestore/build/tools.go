//go:build tools

// Package tools pins SeaweedFS's main package so that `go mod tidy` keeps every
// module it needs in go.mod/go.sum. tools/statestore/ensure-weed.sh builds it
// with `go build github.com/seaweedfs/seaweedfs/weed`.
package tools

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
