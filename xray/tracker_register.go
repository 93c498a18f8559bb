package xray

import (
	"context"
	"fmt"
	"slices"

	"github.com/xtls/xray-core/app/dispatcher"
	"github.com/xtls/xray-core/common"
	"github.com/xtls/xray-core/common/serial"
	"github.com/xtls/xray-core/core"
	"github.com/xtls/xray-core/features/routing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The core builds its features from App entries, each a protobuf message
// found by its full name and turned into an object by the creator
// registered for its Go type. The Tracker must be built this way: inbounds
// bind to the instance's dispatcher when they are created, so a feature
// added after core.New is never used.
//
// There is no generated code for the Tracker's entry, so its message is
// described at init with dynamicpb. Every dynamic message shares one Go
// type, so the creator registered for it checks the full name and refuses
// any other.

// trackerConfigName is the full name of the Tracker's App entry. The
// message has no fields.
const trackerConfigName = "xpanel.xray.TrackerConfig"

// trackerConfig is the Tracker's App entry message type.
var trackerConfig = registerTrackerConfig()

func init() {
	common.Must(common.RegisterConfig((*dynamicpb.Message)(nil), createTracker))
}

// registerTrackerConfig describes the App entry message and makes it
// known by name to the global registry the core resolves entries with.
func registerTrackerConfig() protoreflect.MessageType {
	file := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("xpanel/xray/tracker.proto"),
		Package:     proto.String("xpanel.xray"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("TrackerConfig")}},
	}
	fd, err := protodesc.NewFile(file, protoregistry.GlobalFiles)
	if err != nil {
		panic(fmt.Sprintf("describe %s: %v", trackerConfigName, err))
	}
	mt := dynamicpb.NewMessageType(fd.Messages().ByName("TrackerConfig"))
	if err := protoregistry.GlobalTypes.RegisterMessage(mt); err != nil {
		panic(fmt.Sprintf("register %s: %v", trackerConfigName, err))
	}
	return mt
}

// createTracker builds the Tracker around a stock dispatcher. The stock
// one is made by its own creator, so it resolves its dependencies
// (outbounds, router, policy, stats, DNS) as usual, but it is not
// registered: the Tracker is the instance's only dispatcher.
func createTracker(ctx context.Context, config any) (any, error) {
	msg, ok := config.(*dynamicpb.Message)
	if !ok || msg.Descriptor().FullName() != trackerConfigName {
		return nil, fmt.Errorf("xray: no creator for dynamic message %T", config)
	}
	obj, err := common.CreateObject(ctx, &dispatcher.Config{})
	if err != nil {
		return nil, fmt.Errorf("create stock dispatcher: %w", err)
	}
	inner, ok := obj.(routing.Dispatcher)
	if !ok {
		return nil, fmt.Errorf("stock dispatcher is a %T, not a routing.Dispatcher", obj)
	}
	return newTracker(inner), nil
}

// withTracker makes cfg build a Tracker as its dispatcher: the Tracker's
// App entry takes the place of the stock dispatcher's (infra/conf always
// adds one), or is appended if there is none. A config that already has
// the Tracker is left as it is.
func withTracker(cfg *core.Config) {
	stock := serial.GetMessageType(&dispatcher.Config{})
	for _, app := range cfg.App {
		if app.GetType() == trackerConfigName {
			return
		}
	}

	entry := serial.ToTypedMessage(trackerConfig.New().Interface())
	at := slices.IndexFunc(cfg.App, func(app *serial.TypedMessage) bool {
		return app.GetType() == stock
	})
	if at < 0 {
		cfg.App = append(cfg.App, entry)
		return
	}
	cfg.App[at] = entry
	cfg.App = slices.DeleteFunc(cfg.App, func(app *serial.TypedMessage) bool {
		return app.GetType() == stock
	})
}

// trackerOf returns the Tracker of an instance built from a config given
// to withTracker, or nil if the instance dispatches without one.
func trackerOf(inst *core.Instance) *Tracker {
	t, _ := inst.GetFeature(routing.DispatcherType()).(*Tracker)
	return t
}
