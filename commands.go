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

// parseConfig parses a command's args with fs, after adding the -config
// flag to it, checks the count of the arguments left, and loads the
// configuration -config names.
func (c *command) parseConfig(fs *flag.FlagSet, args []string, wantArgs int) (config.Config, error) {
	path := configFlag(fs)
	if err := c.parse(fs, args, wantArgs); err != nil {
		return config.Config{}, err
	}
	return loadConfig(*path)
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
