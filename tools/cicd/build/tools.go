//go:build tools

// Package tools pins actionlint's main package so that `go mod tidy` keeps every module it
// needs in go.mod/go.sum. tools/cicd/ensure-ci-tools.sh builds it.
package tools

import (
	_ "github.com/rhysd/actionlint/cmd/actionlint"
)
