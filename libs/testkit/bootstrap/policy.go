package bootstrap

import (
	"encoding/json"
	"fmt"
)

// DevicePolicy is the reference system's device policy: a device may connect
// only with its Thing name as client id, and publish, receive and subscribe
// only under topics starting with its Thing name.
func DevicePolicy(partition, region, account string) string {
	arn := func(kind string) string {
		return fmt.Sprintf("arn:%s:iot:%s:%s:%s/${iot:Connection.Thing.ThingName}", partition, region, account, kind)
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{"Effect": "Allow", "Action": "iot:Connect", "Resource": arn("client")},
			{"Effect": "Allow", "Action": []string{"iot:Publish", "iot:Receive"}, "Resource": arn("topic") + "/*"},
			{"Effect": "Allow", "Action": "iot:Subscribe", "Resource": arn("topicfilter") + "/*"},
		},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}
