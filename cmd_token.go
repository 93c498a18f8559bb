package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// runTokenAdd makes a new token and shows it once; runTokenList and
// runTokenRevoke list and revoke them. Only hashes are kept, in the
// tokens file of the data directory, which a running server rereads
// within a second, or at once on SIGHUP.
func runTokenAdd(_ context.Context, cmd *command, args []string, out outputs) error {
	fs := cmd.flags(out)
	readOnly := fs.Bool("read-only", false, "the token may call the read routes only")
	name := fs.String("name", "", "what the token is for, shown by list")
	dataDir, err := tokenDataDir(cmd, fs, args, 0)
	if err != nil {
		return err
	}
	return addToken(dataDir, *name, *readOnly, out.stdout)
}

func runTokenList(_ context.Context, cmd *command, args []string, out outputs) error {
	dataDir, err := tokenDataDir(cmd, cmd.flags(out), args, 0)
	if err != nil {
		return err
	}
	return listTokens(dataDir, out.stdout)
}

func runTokenRevoke(_ context.Context, cmd *command, args []string, out outputs) error {
	fs := cmd.flags(out)
	dataDir, err := tokenDataDir(cmd, fs, args, 1)
	if err != nil {
		return err
	}
	return revokeToken(dataDir, fs.Arg(0), out.stdout)
}

// tokenDataDir parses a token command's args and returns the data
// directory of its configuration, creating it, as the tokens file lives
// there.
func tokenDataDir(cmd *command, fs *flag.FlagSet, args []string, wantArgs int) (string, error) {
	cfg, err := cmd.parseConfig(fs, args, wantArgs)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	return cfg.DataDir, nil
}

// changeTokens applies change to the tokens file under its lock.
func changeTokens(dataDir string, change func(*tokenSet) error) error {
	unlock, err := lockTokens(dataDir)
	if err != nil {
		return err
	}
	defer unlock()
	set, err := readTokens(dataDir)
	if err != nil {
		return err
	}
	if err := change(&set); err != nil {
		return err
	}
	return writeTokens(dataDir, set)
}

// addToken makes a new token, keeps its hash and shows the token once,
// on the last line of stdout.
func addToken(dataDir, name string, readOnly bool, stdout io.Writer) error {
	token := newSecret(32)
	sum := sha256.Sum256([]byte(token))
	t := storedToken{ID: newSecret(5), Name: name, Hash: hex.EncodeToString(sum[:]),
		ReadOnly: readOnly, Created: time.Now().UTC().Truncate(time.Second)}
	err := changeTokens(dataDir, func(set *tokenSet) error {
		set.Tokens = append(set.Tokens, t)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s token %s; it is shown once:\n%s\n", scope(t.ReadOnly), t.ID, token)
	return nil
}

// listTokens shows every token of the file, without the hashes.
func listTokens(dataDir string, stdout io.Writer) error {
	set, err := readTokens(dataDir)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSCOPE\tCREATED\tNAME")
	for _, t := range set.Tokens {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.ID, scope(t.ReadOnly),
			t.Created.Format(time.RFC3339), t.Name)
	}
	return w.Flush()
}

// revokeToken removes the token with id from the file.
func revokeToken(dataDir, id string, stdout io.Writer) error {
	err := changeTokens(dataDir, func(set *tokenSet) error {
		i := slices.IndexFunc(set.Tokens, func(t storedToken) bool { return t.ID == id })
		if i < 0 {
			return fmt.Errorf("revoke token: no token %q", id)
		}
		set.Tokens = slices.Delete(set.Tokens, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked token %s\n", id)
	return nil
}

func scope(readOnly bool) string {
	if readOnly {
		return "read-only"
	}
	return "admin"
}
