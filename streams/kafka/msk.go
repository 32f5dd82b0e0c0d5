package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"
)

// SASLAWSMSKIAM is the --kafka-sasl value that selects Amazon MSK IAM
// authentication.
const SASLAWSMSKIAM = "aws-msk-iam"

// MSKIAMOption configures MSKIAM and NewMSKIAM.
type MSKIAMOption func(*mskIAMConfig)

type mskIAMConfig struct {
	userAgent string
}

// MSKUserAgent sets the user agent sent in each MSK IAM authentication,
// overriding franz-go's default "franz-go/<go version>/<hostname>". IAM
// policies can match it with the aws:UserAgent condition key, and MSK logs
// it, so naming the component (e.g. "wattcast/v0.1.0 processor") tells an
// operator which service connected.
func MSKUserAgent(ua string) MSKIAMOption {
	return func(c *mskIAMConfig) { c.userAgent = ua }
}

// MSKIAM returns the SASL mechanism for Amazon MSK IAM authentication
// (AWS_MSK_IAM), with credentials from the AWS SDK's default chain:
// environment, shared config and SSO, web identity, the ECS task role or the
// EC2 instance role. region sets the SDK region ("" leaves it to AWS_REGION
// and the shared config); the signing region itself comes from the broker
// host name, as in AWS's Java client.
//
// Credentials are retrieved for every new broker connection, through the
// SDK's cache: temporary credentials (an ECS task role's rotate every few
// hours) are refreshed before they expire, so long-running services keep
// authenticating.
func MSKIAM(ctx context.Context, region string, opts ...MSKIAMOption) (sasl.Mechanism, error) {
	var loadOpts []func(*config.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: load AWS configuration for MSK IAM (check AWS_PROFILE, AWS_REGION and the credentials they name): %w", err)
	}
	if cfg.Credentials == nil {
		return nil, errors.New("kafka: MSK IAM: the AWS SDK found no credential provider; run with an IAM role or set AWS credentials")
	}
	return NewMSKIAM(cfg.Credentials, opts...), nil
}

// NewMSKIAM returns the MSK IAM SASL mechanism that signs each
// authentication with credentials retrieved from creds at that moment. Wrap
// a provider that fetches remotely in aws.NewCredentialsCache (the SDK's
// default chain already is).
func NewMSKIAM(creds aws.CredentialsProvider, opts ...MSKIAMOption) sasl.Mechanism {
	var c mskIAMConfig
	for _, o := range opts {
		o(&c)
	}
	return saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
		v, err := creds.Retrieve(ctx)
		if err != nil {
			return saslaws.Auth{}, fmt.Errorf("kafka: MSK IAM: retrieve AWS credentials (is the task or instance role attached, or are AWS credentials set?): %w", err)
		}
		if v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return saslaws.Auth{}, errors.New("kafka: MSK IAM: the AWS credentials are empty; set AWS credentials or attach a role")
		}
		return saslaws.Auth{
			AccessKey:    v.AccessKeyID,
			SecretKey:    v.SecretAccessKey,
			SessionToken: v.SessionToken,
			UserAgent:    c.userAgent,
		}, nil
	})
}
