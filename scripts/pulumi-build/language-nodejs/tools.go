//go:build tools

// Package tools pins the Node.js language host. The module proxy refuses the
// standalone module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// so this builds the copy that sdk/v3 still carried (up to v3.68.0).
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
