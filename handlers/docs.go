package handlers

import "github.com/xpanel/xpanel/panel"

// routeDocs describes the routes of the table for the OpenAPI document,
// keyed by "METHOD path" as the table spells them. A route missing here
// is still described, less precisely; an entry naming no route fails
// the tests.
func routeDocs() map[string]routeDoc {
	const c = "/panel/api/clients"
	const i = "/panel/api/inbounds"
	docs := map[string]routeDoc{
		"GET " + c + "/list": {summary: "Every client with its inbounds and usage.",
			obj: []clientRow{}},
		"GET " + c + "/list/paged": {summary: "One page of clients, filtered and sorted, " +
			"with counts by status.", obj: pageJSON{}, query: pagedQuery()},
		"GET " + c + "/get/{email}": {summary: "One client by email.",
			obj: clientDetail{}, answer: exampleClientDetail},
		"GET " + c + "/get/tgId/{tgId}": {summary: "The clients of a Telegram user id.",
			obj: []clientDetail{}},
		"GET " + c + "/traffic/{email}": {summary: "The usage row of an email; " +
			"null when it has none.", obj: &trafficJSON{}, answer: exampleTraffic},
		"GET " + c + "/export": {summary: "Every client, in the form import reads.",
			obj: []exportItem{}},
		"GET " + c + "/groups": {summary: "Groups with their client counts and usage.",
			obj: []panel.GroupSummary{}},
		"GET " + c + "/groups/{name}/emails": {summary: "The emails of a group's clients.",
			obj: []string{}, answer: `["alice@example.com"]`},
		"POST " + c + "/add": {summary: "Add a client and attach it to inbounds.",
			body: panel.AddRequest{}, example: exampleAdd},
		"POST " + c + "/update/{email}": {summary: "Change the fields the body sends; " +
			"absent fields keep their values.", body: panel.ClientInput{},
			example: `{"totalGB": 53687091200, "enable": true, "comment": "renewed"}`,
			query: []queryParam{{"inboundIds", "string", "accepted and ignored: " +
				"every inbound renders from the one record"}}},
		"POST " + c + "/del/{email}": {summary: "Delete a client.",
			query: []queryParam{{"keepTraffic", "string", "1 keeps its usage row"}}},
		"POST " + c + "/{email}/attach": {summary: "Attach a client to more inbounds.",
			body: inboundList{}, example: `{"inboundIds": [1, 2]}`},
		"POST " + c + "/{email}/detach": {summary: "Detach a client from inbounds.",
			body: inboundList{}, example: `{"inboundIds": [2]}`},
		"POST " + c + "/{email}/externalLinks": {summary: "Replace a client's external " +
			"share links and subscription URLs.", body: linksBody{},
			example: `{"externalLinks": [{"kind": "link", "value": "vless://id@host:443",` +
				` "remark": "backup", "enable": true}]}`},
		"POST " + c + "/import": {summary: "Add the clients of an export; " +
			"each is added or skipped on its own.", body: importBody{},
			obj: panel.CreateResult{}, example: `{"data": "[]"}`},
		"POST " + c + "/delOrphans": {summary: "Delete clients attached to no inbound.",
			obj: deleted{}, answer: `{"deleted": 0}`},
		"POST " + c + "/delDepleted": {summary: "Delete clients out of quota or time " +
			"that do not renew.", obj: deleted{}},
		"POST " + c + "/resetAllTraffics":     {summary: "Reset every client's usage."},
		"POST " + c + "/resetTraffic/{email}": {summary: "Reset one client's usage."},
		"POST " + c + "/updateTraffic/{email}": {summary: "Set one client's counters.",
			body: trafficBody{}, example: `{"upload": 1024, "download": 4096}`},
	}
	for k, d := range bulkDocs(c) {
		docs[k] = d
	}
	for k, d := range runtimeDocs(c) {
		docs[k] = d
	}
	for k, d := range inboundDocs(i) {
		docs[k] = d
	}
	docs["GET /panel/api/openapi.json"] = routeDoc{summary: "This document.",
		obj: map[string]any{}, bare: true}
	return docs
}

// bulkDocs describes the bulk and group routes.
func bulkDocs(c string) map[string]routeDoc {
	emails := `{"emails": ["alice@example.com", "bob@example.com"]}`
	return map[string]routeDoc{
		"POST " + c + "/bulkAdjust": {summary: "Move expiry and quota of clients by a " +
			"delta; set or clear their flow.", body: panel.AdjustRequest{},
			obj:     panel.AdjustResult{},
			example: `{"emails": ["alice@example.com"], "addDays": 30, "addBytes": 0}`,
			answer:  `{"adjusted": 1}`},
		"POST " + c + "/bulkEnable": {summary: "Enable clients.", body: emailList{},
			obj: panel.ChangeResult{}, example: emails, answer: `{"changed": 2}`},
		"POST " + c + "/bulkDisable": {summary: "Disable clients.", body: emailList{},
			obj: panel.ChangeResult{}, example: emails},
		"POST " + c + "/bulkDel": {summary: "Delete clients.", body: deleteList{},
			obj:     panel.DeleteResult{},
			example: `{"emails": ["alice@example.com"], "keepTraffic": false}`,
			answer: `{"deleted": 0, "skipped": [{"email": "alice@example.com",` +
				` "reason": "record not found"}]}`},
		"POST " + c + "/bulkCreate": {summary: "Add clients, each on its own.",
			body: []panel.AddRequest{}, obj: panel.CreateResult{},
			example: "[" + exampleAdd + "]", answer: `{"created": 1}`},
		"POST " + c + "/bulkAttach": {summary: "Attach every listed client to every " +
			"listed inbound.", body: pairList{}, obj: attachJSON{},
			example: `{"emails": ["alice@example.com"], "inboundIds": [1]}`,
			answer:  `{"attached": ["alice@example.com"], "skipped": [], "errors": []}`},
		"POST " + c + "/bulkDetach": {summary: "Detach every listed client from every " +
			"listed inbound.", body: pairList{}, obj: detachJSON{},
			example: `{"emails": ["alice@example.com"], "inboundIds": [1]}`},
		"POST " + c + "/bulkResetTraffic": {summary: "Reset the usage of clients.",
			body: emailList{}, obj: affected{}, example: emails, answer: `{"affected": 2}`},
		"POST " + c + "/groups/create": {summary: "Create an empty group.",
			body: groupName{}, obj: groupName{}, example: `{"name": "resellers"}`},
		"POST " + c + "/groups/rename": {summary: "Rename a group on every member.",
			body: groupRename{}, obj: affected{},
			example: `{"oldName": "resellers", "newName": "partners"}`},
		"POST " + c + "/groups/delete": {summary: "Delete a group; its clients stay " +
			"without one.", body: groupName{}, obj: affected{}},
		"POST " + c + "/groups/resetTraffic": {summary: "Reset the usage of a group's " +
			"clients.", body: groupName{}, obj: groupName{}},
		"POST " + c + "/groups/bulkAdd": {summary: "Put clients in a group.",
			body: groupMembers{}, obj: affected{},
			example: `{"emails": ["alice@example.com"], "group": "partners"}`},
		"POST " + c + "/groups/bulkRemove": {summary: "Take clients out of their group.",
			body: emailList{}, obj: affected{}, example: emails},
	}
}

// runtimeDocs describes the routes answered from the running core.
func runtimeDocs(c string) map[string]routeDoc {
	return map[string]routeDoc{
		"POST " + c + "/ips/{email}": {summary: "Source addresses a client was seen " +
			"from, newest first.", obj: []ipJSON{},
			answer: `[{"ip": "203.0.113.7", "time": "2026-01-02 15:04:05", "node": ""}]`},
		"POST " + c + "/clearIps/{email}": {summary: "Forget a client's addresses."},
		"POST " + c + "/onlines": {summary: "Emails online now.", obj: []string{},
			answer: `["alice@example.com"]`},
		"POST " + c + "/onlinesByGuid": {summary: "Emails online now, by server guid.",
			obj: map[string][]string{}},
		"POST " + c + "/clientIpsByGuid": {summary: "Addresses seen in the last 30 " +
			"minutes, by server guid and email.", obj: map[string]map[string][]seenIP{}},
		"POST " + c + "/activeInbounds": {summary: "Tags of inbounds that moved bytes " +
			"recently, by server guid.", obj: map[string][]string{}},
		"POST " + c + "/lastOnline": {summary: "When each email was last online, in " +
			"Unix milliseconds.", obj: map[string]int64{},
			answer: `{"alice@example.com": 1767366245000}`},
	}
}

// inboundDocs describes the inbound routes.
func inboundDocs(i string) map[string]routeDoc {
	return map[string]routeDoc{
		"GET " + i + "/list": {summary: "Every inbound with its clients and their usage.",
			obj: []inboundJSON{}},
		"GET " + i + "/get/{id}": {summary: "One inbound.", obj: inboundJSON{}},
		"POST " + i + "/add": {summary: "Add an inbound; clients in its settings " +
			"are added as by clients/add.", body: panel.InboundInput{},
			obj: inboundJSON{}, example: exampleInbound},
		"POST " + i + "/update/{id}": {summary: "Replace an inbound.",
			body: panel.InboundInput{}, obj: inboundJSON{}, example: exampleInbound},
		"POST " + i + "/del/{id}": {summary: "Delete an inbound; its clients stay, " +
			"detached."},
		"POST " + i + "/setEnable/{id}": {summary: "Enable or disable an inbound.",
			body: enableBody{}, example: `{"enable": false}`},
	}
}

// pagedQuery lists the parameters of the paged client list.
func pagedQuery() []queryParam {
	return []queryParam{
		{"page", "integer", "1-based page number"},
		{"pageSize", "integer", "clients per page, at most 200 (default 25)"},
		{"search", "string", "substring of email, subId, comment, credentials or tgId"},
		{"filter", "string", "comma-separated buckets: online, active, deactive, " +
			"depleted, expiring"},
		{"protocol", "string", "comma-separated inbound protocols"},
		{"group", "string", "comma-separated group names"},
		{"inbound", "string", "comma-separated inbound ids"},
		{"expiryFrom", "integer", "expiry at least, Unix ms"},
		{"expiryTo", "integer", "expiry at most, Unix ms"},
		{"usageFrom", "integer", "used bytes at least"},
		{"usageTo", "integer", "used bytes at most"},
		{"autoRenew", "string", "on or off"},
		{"hasTgId", "string", "yes or no"},
		{"hasComment", "string", "yes or no"},
		{"sort", "string", "enable, email, inboundIds, traffic, remaining, expiryTime, " +
			"createdAt, updatedAt or lastOnline"},
		{"order", "string", "descend for descending"},
	}
}

// Examples used more than once.
const (
	exampleAdd = `{"client": {"email": "alice@example.com",` +
		` "id": "5a2c7b1e-8a37-4c55-9a0e-3f0b6c1d2e4f", "totalGB": 10737418240,` +
		` "expiryTime": 1767225600000, "limitIp": 2, "enable": true, "subId": "a1b2c3"},` +
		` "inboundIds": [1]}`

	exampleInbound = `{"remark": "main", "enable": true, "listen": "", "port": 443,` +
		` "protocol": "vless", "settings": {"decryption": "none", "clients": []},` +
		` "streamSettings": {"network": "tcp", "security": "none"}, "tag": "in-443-tcp"}`

	exampleTraffic = `{"id": 1, "inboundId": 1, "enable": true,` +
		` "email": "alice@example.com", "up": 1024, "down": 4096,` +
		` "expiryTime": 1767225600000, "total": 10737418240, "reset": 0,` +
		` "resetDay": 0, "resetMax": 0, "resetCount": 0, "lastOnline": 0,` +
		` "lastSubFetch": 0}`

	exampleClientDetail = `{"client": {"id": 1, "email": "alice@example.com",` +
		` "subId": "a1b2c3", "uuid": "5a2c7b1e-8a37-4c55-9a0e-3f0b6c1d2e4f",` +
		` "enable": true, "totalGB": 10737418240, "expiryTime": 1767225600000},` +
		` "inboundIds": [1], "externalLinks": [], "usedTraffic": 5120}`
)
