package handlers

import (
	"github.com/valyala/fasthttp"
)

// groupName is the body of the group calls that name one group.
type groupName struct {
	Name string `json:"name"`
}

func (h *Handler) listGroups(ctx *fasthttp.RequestCtx) {
	h.ok(ctx, h.svc.Groups())
}

func (h *Handler) groupEmails(ctx *fasthttp.RequestCtx) {
	h.ok(ctx, h.svc.GroupEmails(param(ctx, "name")))
}

func (h *Handler) createGroup(ctx *fasthttp.RequestCtx) {
	var body groupName
	if !h.decode(ctx, &body) {
		return
	}
	err := h.svc.CreateGroup(body.Name)
	h.answer(ctx, body, err)
}

// groupRename is the body of groups/rename.
type groupRename struct {
	OldName string `json:"oldName"`
	NewName string `json:"newName"`
}

func (h *Handler) renameGroup(ctx *fasthttp.RequestCtx) {
	var body groupRename
	if !h.decode(ctx, &body) {
		return
	}
	n, err := h.svc.RenameGroup(body.OldName, body.NewName)
	h.answer(ctx, affected{n}, err)
}

func (h *Handler) deleteGroup(ctx *fasthttp.RequestCtx) {
	var body groupName
	if !h.decode(ctx, &body) {
		return
	}
	n, err := h.svc.DeleteGroup(body.Name)
	h.answer(ctx, affected{n}, err)
}

func (h *Handler) resetGroupTraffic(ctx *fasthttp.RequestCtx) {
	var body groupName
	if !h.decode(ctx, &body) {
		return
	}
	err := h.svc.ResetGroupTraffic(body.Name)
	h.answer(ctx, body, err)
}

// groupMembers is the body of groups/bulkAdd.
type groupMembers struct {
	Emails []string `json:"emails"`
	Group  string   `json:"group"`
}

func (h *Handler) groupAdd(ctx *fasthttp.RequestCtx) {
	var body groupMembers
	if !h.decode(ctx, &body) {
		return
	}
	n, err := h.svc.GroupAddClients(body.Emails, body.Group)
	h.answer(ctx, affected{n}, err)
}

func (h *Handler) groupRemove(ctx *fasthttp.RequestCtx) {
	var body emailList
	if !h.decode(ctx, &body) {
		return
	}
	n, err := h.svc.GroupRemoveClients(body.Emails)
	h.answer(ctx, affected{n}, err)
}
