package xray

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	clog "github.com/xtls/xray-core/common/log"
)

// logOff is a level above every level the bridge logs at: nothing passes.
const logOff = slog.LevelError + 100

// logBridge passes the core's log messages on to slog. The core logs
// through one process-wide handler, so there is one bridge per process.
type logBridge struct {
	log *slog.Logger
	min slog.Level // the least severe level passed on
}

// routeLog sends the core's log to log from now on, dropping messages
// less severe than level: debug, info, warning, error or none; empty
// means warning. The core's own default prints everything to stdout.
//
// An instance whose config has an app/log entry installs its own handler
// when it is built, replacing this one, so route after core.New or leave
// that entry out.
func routeLog(log *slog.Logger, level string) error {
	b, err := newLogBridge(log, level)
	if err != nil {
		return err
	}
	clog.RegisterHandler(b)
	return nil
}

// newLogBridge builds a bridge; see routeLog for the levels.
func newLogBridge(log *slog.Logger, level string) (*logBridge, error) {
	min, err := parseLogLevel(level)
	if err != nil {
		return nil, err
	}
	return &logBridge{log: log.With(slog.String("origin", "xray-core")), min: min}, nil
}

// parseLogLevel maps the core's level names to the least slog level
// passed on.
func parseLogLevel(level string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "", "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "none":
		return logOff, nil
	}
	return 0, fmt.Errorf("xray log level %q: want debug, info, warning, error or none", level)
}

// Handle implements the core's log handler. Access and DNS messages are
// logged at debug only: access lines name the user by email.
func (b *logBridge) Handle(msg clog.Message) {
	switch m := msg.(type) {
	case *clog.GeneralMessage:
		b.emit(severityLevel(m.Severity), fmt.Sprint(m.Content))
	case *clog.AccessMessage:
		b.emit(slog.LevelDebug, "access",
			slog.String("from", fmt.Sprint(m.From)),
			slog.String("to", fmt.Sprint(m.To)),
			slog.String("status", string(m.Status)),
			slog.String("reason", fmt.Sprint(m.Reason)),
			slog.String("email", m.Email),
			slog.String("detour", m.Detour))
	default:
		b.emit(slog.LevelDebug, msg.String())
	}
}

// emit logs one message if its level passes the bridge's minimum.
func (b *logBridge) emit(level slog.Level, text string, attrs ...slog.Attr) {
	if level < b.min {
		return
	}
	b.log.LogAttrs(context.Background(), level, text, attrs...)
}

// severityLevel maps a core severity to a slog level. Messages of no
// stated severity are taken as informational.
func severityLevel(s clog.Severity) slog.Level {
	switch s {
	case clog.Severity_Error:
		return slog.LevelError
	case clog.Severity_Warning:
		return slog.LevelWarn
	case clog.Severity_Debug:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
