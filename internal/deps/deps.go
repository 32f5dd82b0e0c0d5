package deps
import (
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/kadm"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/plugin/kslog"
	_ "github.com/parquet-go/parquet-go"
	_ "gonum.org/v1/gonum/mat"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/johannesboyne/gofakes3"
	_ "golang.org/x/sync/errgroup"
	_ "github.com/rickar/cal/v2"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/prometheus/client_golang/prometheus"
)
