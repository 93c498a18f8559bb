package main

import (
	"flag"
	"fmt"

	"github.com/xpanel/xpanel/config"
)

// configFlag adds the -config flag every command that reads the
// configuration takes.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "TOML configuration `file` (default: built-in defaults)")
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
