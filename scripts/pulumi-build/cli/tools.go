//go:build tools

// Package tools pins the Pulumi CLI's main package so that `go mod tidy`
// keeps every module it needs in go.mod/go.sum. scripts/ensure-pulumi.sh
// builds it with `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
