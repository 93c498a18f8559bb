package panel

import (
	"slices"
	"strings"

	"github.com/xpanel/xpanel/kv"
)

// GroupSummary is one group as the group list shows it. Traffic counts
// the members' usage since the group's last traffic reset.
type GroupSummary struct {
	Name        string `json:"name"`
	ClientCount int    `json:"clientCount"`
	TrafficUsed int64  `json:"trafficUsed"`
	Up          int64  `json:"up"`
	Down        int64  `json:"down"`
}

// Groups lists stored groups and labels in use, sorted ignoring case.
func (s *Service) Groups() []GroupSummary {
	var out []GroupSummary
	s.store.View(func(v *kv.View) error {
		byName := map[string]*GroupSummary{}
		for _, g := range v.StoredGroups() {
			byName[g.Name] = &GroupSummary{Name: g.Name}
		}
		v.EachClient(func(c *kv.Client, t *kv.Traffic) bool {
			name := strings.TrimSpace(c.Group)
			if name == "" {
				return true
			}
			g := byName[name]
			if g == nil {
				g = &GroupSummary{Name: name}
				byName[name] = g
			}
			g.ClientCount++
			if t != nil {
				g.Up += t.Up
				g.Down += t.Down
			}
			return true
		})
		for name, g := range byName {
			if row := v.Group(name); row != nil {
				g.Up = max(g.Up-row.ResetUp, 0)
				g.Down = max(g.Down-row.ResetDown, 0)
			}
			g.TrafficUsed = g.Up + g.Down
			out = append(out, *g)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b GroupSummary) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}

// GroupEmails lists the emails of the clients labelled exactly name.
func (s *Service) GroupEmails(name string) []string {
	name = strings.TrimSpace(name)
	emails := []string{}
	if name == "" {
		return emails
	}
	s.store.View(func(v *kv.View) error {
		v.EachClient(func(c *kv.Client, _ *kv.Traffic) bool {
			if strings.TrimSpace(c.Group) == name {
				emails = append(emails, c.Email)
			}
			return true
		})
		return nil
	})
	slices.Sort(emails)
	return emails
}

// CreateGroup stores an empty group.
func (s *Service) CreateGroup(name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return refuse("group name is required")
	}
	if err := checkGroupName(name); err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		if tx.Group(name) != nil {
			return refuse("group already exists")
		}
		return tx.PutGroup(&kv.Group{Name: name})
	})
}

// RenameGroup renames a group and relabels its clients. It returns how
// many clients carried the old name.
func (s *Service) RenameGroup(oldName, newName string) (int, error) {
	oldName, newName = strings.TrimSpace(oldName), strings.TrimSpace(newName)
	switch {
	case oldName == "":
		return 0, refuse("old group name is required")
	case newName == "":
		return 0, refuse("new group name is required")
	case oldName == newName:
		return 0, nil
	}
	if err := checkGroupName(newName); err != nil {
		return 0, err
	}
	relabel := func(c *kv.Client) { c.Group = newName }
	if err := s.vetAll(s.GroupEmails(oldName), relabel); err != nil {
		return 0, err
	}
	var affected int
	err := s.update(func(tx *kv.Tx) error {
		if tx.Group(newName) != nil {
			return refuse("group already exists: %s", newName)
		}
		if g := tx.Group(oldName); g != nil {
			renamed := *g
			renamed.Name = newName
			if err := tx.DeleteGroup(oldName); err != nil {
				return err
			}
			if err := tx.PutGroup(&renamed); err != nil {
				return err
			}
		}
		var err error
		affected, err = s.relabel(tx, labelled(tx, oldName), newName)
		return err
	})
	return affected, err
}

// DeleteGroup removes a group and clears its label from its clients. It
// returns how many clients carried the label.
func (s *Service) DeleteGroup(name string) (int, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, refuse("group name is required")
	}
	if err := s.vetAll(s.GroupEmails(name), func(c *kv.Client) { c.Group = "" }); err != nil {
		return 0, err
	}
	var affected int
	err := s.update(func(tx *kv.Tx) error {
		if err := tx.DeleteGroup(name); err != nil {
			return err
		}
		var err error
		affected, err = s.relabel(tx, labelled(tx, name), "")
		return err
	})
	return affected, err
}

// labelled returns the clients labelled exactly name.
func labelled(tx *kv.Tx, name string) []*kv.Client {
	return slices.DeleteFunc(tx.ClientsInGroup(name), func(c *kv.Client) bool {
		return strings.TrimSpace(c.Group) != name
	})
}

// relabel sets the label of every client given that differs from it and
// returns how many were given.
func (s *Service) relabel(tx *kv.Tx, clients []*kv.Client, label string) (int, error) {
	now := s.nowMs()
	for _, c := range clients {
		if c.Group == label {
			continue
		}
		n := c.Clone()
		n.Group, n.UpdatedAt = label, now
		if err := tx.PutClient(n); err != nil {
			return 0, err
		}
	}
	return len(clients), nil
}

// GroupAddClients labels the clients with the group, creating the group
// if nothing carries its name yet. It returns how many labels changed.
func (s *Service) GroupAddClients(emails []string, group string) (int, error) {
	group = strings.TrimSpace(group)
	if group == "" {
		return 0, refuse("group name is required")
	}
	if err := checkGroupName(group); err != nil {
		return 0, err
	}
	if len(emails) == 0 {
		return 0, nil
	}
	if err := s.vetAll(cleanEmails(emails), func(c *kv.Client) { c.Group = group }); err != nil {
		return 0, err
	}
	var affected int
	err := s.update(func(tx *kv.Tx) error {
		if tx.Group(group) == nil && len(labelled(tx, group)) == 0 {
			if err := tx.PutGroup(&kv.Group{Name: group}); err != nil {
				return err
			}
		}
		var err error
		affected, err = s.relabel(tx, changing(tx, emails, group), group)
		return err
	})
	return affected, err
}

// GroupRemoveClients clears the label of the clients. It returns how many
// labels changed.
func (s *Service) GroupRemoveClients(emails []string) (int, error) {
	if err := s.vetAll(cleanEmails(emails), func(c *kv.Client) { c.Group = "" }); err != nil {
		return 0, err
	}
	var affected int
	err := s.update(func(tx *kv.Tx) error {
		var err error
		affected, err = s.relabel(tx, changing(tx, emails, ""), "")
		return err
	})
	return affected, err
}

// changing returns the clients among emails whose label is not label.
func changing(tx *kv.Tx, emails []string, label string) []*kv.Client {
	var out []*kv.Client
	for _, email := range cleanEmails(emails) {
		c, _ := tx.ClientByEmail(email)
		if c != nil && c.Group != label {
			out = append(out, c)
		}
	}
	return out
}

// ResetGroupTraffic makes the group's traffic count from zero again by
// storing its members' current usage as its baseline.
func (s *Service) ResetGroupTraffic(name string) error {
	name = strings.TrimSpace(name)
	if name == "" {
		return refuse("group name is required")
	}
	if err := checkGroupName(name); err != nil {
		return err
	}
	return s.update(func(tx *kv.Tx) error {
		g := &kv.Group{Name: name}
		for _, c := range labelled(tx, name) {
			if t := tx.Traffic(c.Email); t != nil {
				g.ResetUp += t.Up
				g.ResetDown += t.Down
			}
		}
		return tx.PutGroup(g)
	})
}

// lowerGroupBaseline takes a client's usage out of its group's baseline
// before the usage disappears, so that the group total does not jump.
func (s *Service) lowerGroupBaseline(tx *kv.Tx, c *kv.Client) error {
	name := strings.TrimSpace(c.Group)
	g, t := tx.Group(name), tx.Traffic(c.Email)
	if name == "" || g == nil || t == nil {
		return nil
	}
	n := *g
	n.ResetUp = max(n.ResetUp-t.Up, 0)
	n.ResetDown = max(n.ResetDown-t.Down, 0)
	return tx.PutGroup(&n)
}

// cleanEmails trims emails, drops blanks and exact duplicates, and keeps
// the first-seen order.
func cleanEmails(emails []string) []string {
	out := make([]string, 0, len(emails))
	seen := map[string]bool{}
	for _, e := range emails {
		e = strings.TrimSpace(e)
		if e != "" && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}
