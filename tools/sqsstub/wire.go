package sqsstub

// Request and response bodies of the AWS JSON protocol, named as in the
// SQS API. Integers the SDK may leave out are pointers, so a missing value
// falls back to the queue's setting rather than to zero.

type attrValue struct {
	DataType    string  `json:"DataType"`
	StringValue *string `json:"StringValue,omitempty"`
	BinaryValue []byte  `json:"BinaryValue,omitempty"`
}

type createQueueIn struct {
	QueueName  string
	Attributes map[string]string
}

type getQueueURLIn struct{ QueueName string }

type queueURLOut struct{ QueueUrl string }

type getAttributesIn struct {
	QueueUrl       string
	AttributeNames []string
}

type attributesOut struct {
	Attributes map[string]string `json:",omitempty"`
}

type setAttributesIn struct {
	QueueUrl   string
	Attributes map[string]string
}

type sendIn struct {
	QueueUrl               string
	MessageBody            string
	DelaySeconds           int
	MessageAttributes      map[string]attrValue
	MessageGroupId         string
	MessageDeduplicationId string
}

type sendOut struct {
	MessageId              string
	MD5OfMessageBody       string
	MD5OfMessageAttributes string `json:",omitempty"`
	SequenceNumber         string `json:",omitempty"`
}

type receiveIn struct {
	QueueUrl                    string
	MaxNumberOfMessages         *int
	WaitTimeSeconds             *int
	VisibilityTimeout           *int
	MessageAttributeNames       []string
	MessageSystemAttributeNames []string
	AttributeNames              []string // deprecated alias of MessageSystemAttributeNames
}

type messageOut struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string    `json:",omitempty"`
	MD5OfMessageAttributes string               `json:",omitempty"`
	MessageAttributes      map[string]attrValue `json:",omitempty"`
}

type receiveOut struct {
	Messages []messageOut `json:",omitempty"`
}

type deleteIn struct {
	QueueUrl      string
	ReceiptHandle string
}

type changeVisibilityIn struct {
	QueueUrl          string
	ReceiptHandle     string
	VisibilityTimeout *int
}
