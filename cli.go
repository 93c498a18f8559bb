package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xpanel/xpanel/config"
	"github.com/xpanel/xpanel/xray"
)

// version and commit name the build. Release builds set them with
// -ldflags "-X main.version=1.2.0 -X main.commit=abc1234"; left empty,
// they are read from the build information Go embeds. They are variables
// of the package because -X can set nothing else; nothing assigns them.
var (
	version string
	commit  string
)

// command is one subcommand of the binary. Its name is the words typed
// after "xpanel", such as "config check".
//
// run gets the args after the name. It must parse them with cmd.flags
// and cmd.parse before doing anything else, so that -h shows the help
// and changes nothing; "xpanel help NAME" relies on it.
type command struct {
	name    string
	args    string // the arguments after the name, for the synopsis
	summary string // one line, for the command list
	detail  string // more help, shown by "xpanel help NAME" and -h
	run     func(ctx context.Context, cmd *command, args []string, out outputs) error
}

// outputs are where a command writes: results to stdout, messages to
// stderr.
type outputs struct {
	stdout, stderr io.Writer
}

// commands lists every subcommand, one an entry, in the order help
// lists them. The first is what a command line without a name runs.
func commands() []*command {
	return []*command{
		{name: "serve", args: "[-config FILE]", run: runServe,
			summary: "run the server (the default when no command is given)",
			detail: "Serves the API, runs the proxy core and the traffic poller until\n" +
				"SIGINT or SIGTERM. Without -config the built-in defaults are used."},
		{name: "version", run: runVersion,
			summary: "print the version, commit, Go and Xray-core versions"},
		{name: "config check", args: "FILE", run: runConfigCheck,
			summary: "validate a configuration file as start-up does",
			detail: "Reads FILE with the same rules as start-up: unknown keys and bad\n" +
				"values are errors naming the key. Exits 0 when the file is usable,\n" +
				"1 when it is not."},
		{name: "token add", args: "[-config FILE] [-read-only] [-name NAME]", run: runTokenAdd,
			summary: "create an API token and print it once",
			detail: "Keeps only the token's hash in the tokens file of the data directory.\n" +
				"A running server accepts it within a second (at once on SIGHUP)."},
		{name: "token list", args: "[-config FILE]", run: runTokenList,
			summary: "list the API tokens: id, name, access and creation time"},
		{name: "token revoke", args: "[-config FILE] ID", run: runTokenRevoke,
			summary: "revoke the API token with the id that token list shows",
			detail:  "A running server refuses the token within a second."},
		{name: "backup", args: "[-config FILE] FILE", run: runBackup,
			summary: "write a consistent backup of the database to FILE",
			detail: "Asks the server on the configured listen address for it when one\n" +
				"answers, else opens the store itself. FILE is written whole or not at all."},
		{name: "restore", args: "[-config FILE] FILE", run: runRestore,
			summary: "restore a backup into an empty data directory",
			detail: "Refuses a data directory that already holds a database, and checks\n" +
				"every index of the restored one."},
		{name: "help", args: "[COMMAND]", run: runHelp,
			summary: "list the commands, or show the help of one"},
	}
}

// errUsage marks a command line that names no command or misuses one;
// the process exits with status 2 for it, as flag does.
var errUsage = errors.New("usage")

// dispatch runs the subcommand args name, or the server when args name
// none (no args, or flags only), as "xpanel -config FILE" always did;
// "xpanel -h" lists the commands.
func dispatch(ctx context.Context, args []string, out outputs) error {
	cmds := commands()
	if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		printCommands(out.stdout, cmds)
		return nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return cmds[0].run(ctx, cmds[0], args, out)
	}
	cmd, rest := lookup(cmds, args)
	if cmd == nil {
		fmt.Fprintf(out.stderr, "xpanel: unknown command %q\n\n", strings.Join(args, " "))
		printCommands(out.stderr, cmds)
		return errUsage
	}
	return cmd.run(ctx, cmd, rest, out)
}

// lookup finds the command whose name the args start with, the longest
// when names share words, and returns the args after the name.
func lookup(cmds []*command, args []string) (*command, []string) {
	var found *command
	var rest []string
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(words) > len(args) || !equalWords(words, args[:len(words)]) {
			continue
		}
		if found == nil || len(words) > len(strings.Fields(found.name)) {
			found, rest = c, args[len(words):]
		}
	}
	return found, rest
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// flags returns a flag set for cmd whose -h prints cmd's help.
func (c *command) flags(out outputs) *flag.FlagSet {
	fs := flag.NewFlagSet("xpanel "+c.name, flag.ContinueOnError)
	fs.SetOutput(out.stderr)
	fs.Usage = func() { c.printHelp(out.stderr, fs) }
	return fs
}

// anyArgs is the count parse accepts for a command taking any number of
// arguments.
const anyArgs = -1

// parse parses args with fs and checks the count of the arguments left.
// It returns flag.ErrHelp for -h, which is not a failure, and errUsage
// for a wrong count.
func (c *command) parse(fs *flag.FlagSet, args []string, wantArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // flag has said what was wrong
	}
	if wantArgs != anyArgs && fs.NArg() != wantArgs {
		fmt.Fprintf(fs.Output(), "xpanel %s: want %d argument(s), got %d\n\n",
			c.name, wantArgs, fs.NArg())
		fs.Usage()
		return errUsage
	}
	return nil
}

// printHelp writes the synopsis, summary, detail and flags of c.
func (c *command) printHelp(w io.Writer, fs *flag.FlagSet) {
	synopsis := strings.TrimSpace("xpanel " + c.name + " " + c.args)
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", synopsis, capitalise(c.summary))
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", c.detail)
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// printCommands writes the list of commands.
func printCommands(w io.Writer, cmds []*command) {
	fmt.Fprintln(w, "Usage: xpanel [COMMAND] [ARGS]\n\nCommands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.args, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun \"xpanel help COMMAND\" or \"xpanel COMMAND -h\" for more.")
}

func runServe(ctx context.Context, cmd *command, args []string, out outputs) error {
	fs := cmd.flags(out)
	configPath := configFlag(fs)
	if err := cmd.parse(fs, args, 0); err != nil {
		return err
	}
	return run(ctx, *configPath, out.stdout, out.stderr)
}

func runVersion(_ context.Context, cmd *command, args []string, out outputs) error {
	if err := cmd.parse(cmd.flags(out), args, 0); err != nil {
		return err
	}
	v, c := buildVersion()
	fmt.Fprintf(out.stdout, "xpanel %s\ncommit %s\ngo     %s\nxray   %s\n",
		v, c, runtime.Version(), xray.Version())
	return nil
}

// buildVersion returns the version and commit set at link time or, for
// what was not set, those Go recorded: the module version of an
// installed binary and the VCS revision of a build from a checkout.
func buildVersion() (ver, rev string) {
	ver, rev = version, commit
	info, ok := debug.ReadBuildInfo()
	if ok && ver == "" {
		ver = info.Main.Version
	}
	if ok && rev == "" {
		var modified bool
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "-dirty"
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

func runConfigCheck(_ context.Context, cmd *command, args []string, out outputs) error {
	fs := cmd.flags(out)
	if err := cmd.parse(fs, args, 1); err != nil {
		return err
	}
	path := fs.Arg(0)
	if _, err := config.Load(path); err != nil {
		return err
	}
	fmt.Fprintf(out.stdout, "%s: ok\n", path)
	return nil
}

// runHelp lists the commands, or shows one's help by running it with
// -h: every command parses its flags before it does anything else.
func runHelp(ctx context.Context, cmd *command, args []string, out outputs) error {
	fs := cmd.flags(out)
	if err := cmd.parse(fs, args, anyArgs); err != nil {
		return err
	}
	cmds := commands()
	if fs.NArg() == 0 {
		printCommands(out.stdout, cmds)
		return nil
	}
	target, rest := lookup(cmds, fs.Args())
	if target == nil || len(rest) > 0 {
		fmt.Fprintf(out.stderr, "xpanel help: unknown command %q\n\n",
			strings.Join(fs.Args(), " "))
		printCommands(out.stderr, cmds)
		return errUsage
	}
	err := target.run(ctx, target, []string{"-h"}, outputs{out.stdout, out.stdout})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// exitCode reports err on w and returns the process's exit status: 0
// for success or help asked for, 2 for a misused command line (its
// message is already out), 1 for any other failure.
func exitCode(err error, w io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(w, "xpanel:", err)
	return 1
}

// configFlag adds the -config flag every command that reads the
// configuration takes.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "TOML configuration `file` (default: built-in defaults)")
}

// parseConfig parses a command's args with fs, after adding the -config
// flag to it, checks the count of the arguments left, and loads the
// configuration -config names.
func (c *command) parseConfig(fs *flag.FlagSet, args []string,
	wantArgs int) (config.Config, error) {
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
