package main

import (
	"log/slog"
	"time"

	"github.com/xpanel/xpanel/kv"
	"github.com/xpanel/xpanel/panel"
)

// gcInterval is how often Badger's value log is garbage-collected.
const gcInterval = 10 * time.Minute

// foldInterval is how often the usage rows that traffic polls changed
// are written back whole. Between folds each poll adds one usage record,
// which a restart replays; a minute keeps that to a few records.
const foldInterval = time.Minute

// periodic runs a round of background work every interval until Close.
// A round that fails is logged; one that panics is logged with its
// stack and counted, and the rounds after it still run.
type periodic struct {
	name     string
	round    func() error
	interval time.Duration
	faults   *panel.Faults
	log      *slog.Logger

	every *panel.Every
}

// newValueLogGC returns the job that collects the value log of store.
func newValueLogGC(store *kv.Store, faults *panel.Faults, log *slog.Logger) *periodic {
	return &periodic{name: "value log gc", interval: gcInterval, faults: faults, log: log,
		round: func() error {
			n, err := store.CollectGarbage()
			if n > 0 {
				log.Info("value log collected", slog.Int("files_rewritten", n))
			}
			return err
		}}
}

// newUsageFold returns the job that writes back the usage rows of store
// that usage records changed, and drops the records. The records live
// in the value log, a few megabytes per poll at 100,000 users, so a fold
// that wrote rows is followed by a value-log collection rather than
// leaving their space to the ten-minute one.
func newUsageFold(store *kv.Store, faults *panel.Faults, log *slog.Logger) *periodic {
	return &periodic{name: "usage fold", interval: foldInterval, faults: faults, log: log,
		round: func() error {
			start := time.Now()
			n, err := store.FoldUsage()
			if err != nil || n == 0 {
				return err
			}
			files, err := store.CollectGarbage()
			log.Debug("usage rows folded", slog.Int("rows", n),
				slog.Int("value_log_files_rewritten", files),
				slog.Duration("took", time.Since(start)))
			return err
		}}
}

// Open starts the rounds; an interval of zero starts nothing, and the
// caller runs rounds with Run.
func (p *periodic) Open() {
	p.every = panel.StartEvery(p.interval, p.Run)
}

// Run runs one round now, recovering a panic in it.
func (p *periodic) Run() {
	defer func() {
		if v := recover(); v != nil {
			p.faults.Recovered(p.log, p.name, v)
		}
	}()
	if err := p.round(); err != nil {
		p.log.Error("background round failed", slog.String("job", p.name), slog.Any("err", err))
	}
}

// Close stops the rounds and waits for one under way.
func (p *periodic) Close() {
	p.every.Stop()
}
