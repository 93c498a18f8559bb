package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/xpanel/xpanel/config"
)

// command is a subcommand of the binary: it gets the arguments after its
// name and writes its answer to stdout, its complaints to stderr.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// subcommand returns the subcommand called name, if there is one.
func subcommand(name string) (command, bool) {
	switch name {
	case "token":
		return runToken, true
	case "backup":
		return runBackup, true
	case "restore":
		return runRestore, true
	}
	return nil, false
}

// commandFlags returns the flag set of a subcommand with the -config
// flag every subcommand takes.
func commandFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	flags := flag.NewFlagSet("xpanel "+name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	path := flags.String("config", "", "TOML configuration `file` (default: built-in defaults)")
	return flags, path
}

// loadConfig reads the configuration file at path, or returns the
// defaults for an empty path.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, fmt.Errorf("load config: %w", err)
	}
	return cfg, nil
}
