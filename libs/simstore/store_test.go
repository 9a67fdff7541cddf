package simstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/simbridge/simbridge/libs/simstore"
	"github.com/simbridge/simbridge/libs/simstore/storetest"
	"github.com/simbridge/simbridge/libs/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

func TestMemoryContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) storetest.Store { return simstore.NewMemory() })
}

func TestDynamoContract(t *testing.T) {
	t.Parallel()
	db := dynamodb.NewFromConfig(testkit.AWSConfig(t))
	storetest.Run(t, func(t *testing.T) storetest.Store {
		table := testkit.Name(t)
		if _, err := db.CreateTable(context.Background(), simstore.TableDefinition(table)); err != nil {
			t.Fatalf("create table: %v", err)
		}
		return simstore.NewDynamo(db, table)
	})
}
