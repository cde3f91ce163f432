// Package schema describes BrightRun's single DynamoDB table without
// importing any SDK, so infra (CDK), the local stack and the tests build the
// same table from the same constants.
package schema

// Attribute and index names. Key values are built in package dynamo (keys.go).
const (
	PK        = "PK"
	SK        = "SK"
	GSI1      = "GSI1" // owner timeline: jobs by user, unread notifications
	GSI1PK    = "GSI1PK"
	GSI1SK    = "GSI1SK"
	GSI2      = "GSI2" // owner + status: datasets, jobs and models by status
	GSI2PK    = "GSI2PK"
	GSI2SK    = "GSI2SK"
	ExpiresAt = "expiresAt" // TTL attribute, epoch seconds
)

// DefaultTableName is used locally and in tests; infra names the deployed table.
const DefaultTableName = "brightrun"

// Index is a global secondary index projecting all attributes.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// Table is the table's shape: string partition and sort keys, two GSIs, TTL.
type Table struct {
	PartitionKey string
	SortKey      string
	Indexes      []Index
	TTLAttribute string
}

// Definition is the one table definition.
func Definition() Table {
	return Table{
		PartitionKey: PK,
		SortKey:      SK,
		Indexes: []Index{
			{Name: GSI1, PartitionKey: GSI1PK, SortKey: GSI1SK},
			{Name: GSI2, PartitionKey: GSI2PK, SortKey: GSI2SK},
		},
		TTLAttribute: ExpiresAt,
	}
}
