package panel

import (
	"errors"

	"github.com/xpanel/xpanel/kv"
)

// Skipped names an item of a bulk call that was not applied, and why.
type Skipped struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// batch applies item after item in as few transactions as will hold
// them, and returns each item's refusal (nil where it was applied).
//
// Each item is all or nothing: step must refuse before it stages any
// write, so that a refused item leaves no trace in the transaction the
// others commit in. Any error that is not a refusal stops the batch and
// is returned; what earlier transactions committed stays.
func (s *Service) batch(n int, step func(tx *kv.Tx, i int) error) ([]error, error) {
	results := make([]error, n)
	for next := 0; next < n; {
		start := next
		err := s.store.Update(func(tx *kv.Tx) error {
			s.noteOrigin(tx)
			for next = start; next < n && !tx.Full(); next++ {
				err := asRefusal(step(tx, next))
				if err != nil && !IsRefusal(err) {
					return err
				}
				results[next] = err
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

// asRefusal turns a unique-index collision into a refusal.
func asRefusal(err error) error {
	if err == nil {
		return nil
	}
	var ue *kv.UniqueError
	if errors.As(err, &ue) {
		return refuse("%s already in use", ue.Index)
	}
	return err
}
