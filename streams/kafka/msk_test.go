package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWS's documentation example keys: not real credentials.
const (
	testAccessKey = "AKIDEXAMPLE"
	testSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testHost      = "b-1.wattcast-test.abc123.c4.kafka.eu-west-1.amazonaws.com"
)

// emptySHA256 is the hex SHA-256 of an empty payload.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// authenticate runs the mechanism's first step against host and returns the
// JSON payload the client would send in SaslAuthenticate.
func authenticate(t *testing.T, creds aws.CredentialsProvider, host string, opts ...MSKIAMOption) map[string]string {
	t.Helper()
	mech := NewMSKIAM(creds, opts...)
	if got := mech.Name(); got != "AWS_MSK_IAM" {
		t.Fatalf("mechanism name = %q, want AWS_MSK_IAM", got)
	}
	_, payload, err := mech.Authenticate(context.Background(), host+":9098")
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("payload is not a JSON object of strings: %v\n%s", err, payload)
	}
	return m
}

// sdkSignature signs the same presigned GET that the MSK IAM payload stands
// for with aws-sdk-go-v2's own SigV4 signer, an implementation independent
// of franz-go's, and returns its X-Amz-Signature.
func sdkSignature(t *testing.T, creds aws.Credentials, host, region string, at time.Time) string {
	t.Helper()
	sig, err := presignSignature(creds, host, region, at)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func presignSignature(creds aws.Credentials, host, region string, at time.Time) (string, error) {
	q := url.Values{}
	q.Set("Action", "kafka-cluster:Connect")
	q.Set("X-Amz-Expires", "900")
	req, err := http.NewRequest(http.MethodGet, "https://"+host+"/?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, emptySHA256, "kafka-cluster", region, at)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return "", err
	}
	return u.Query().Get("X-Amz-Signature"), nil
}

func TestMSKIAMPayloadIsAValidSigV4Presign(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     string
		userAgent string
	}{
		{name: "long-term keys", token: ""},
		{name: "session credentials (task role)", token: "FwoGZXIvYXdzEXAMPLETOKEN+/=", userAgent: "wattcast/test processor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			creds := credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, tt.token)
			var opts []MSKIAMOption
			if tt.userAgent != "" {
				opts = append(opts, MSKUserAgent(tt.userAgent))
			}
			before := time.Now().UTC().Truncate(time.Second)
			p := authenticate(t, creds, testHost, opts...)
			after := time.Now().UTC()

			at, err := time.Parse("20060102T150405Z", p["x-amz-date"])
			if err != nil {
				t.Fatalf("x-amz-date %q: %v", p["x-amz-date"], err)
			}
			if at.Before(before) || at.After(after) {
				t.Errorf("x-amz-date %s is not the signing time (between %s and %s)", at, before, after)
			}
			want := map[string]string{
				"version":             "2020_10_22",
				"host":                testHost,
				"action":              "kafka-cluster:Connect",
				"x-amz-algorithm":     "AWS4-HMAC-SHA256",
				"x-amz-credential":    testAccessKey + "/" + at.Format("20060102") + "/eu-west-1/kafka-cluster/aws4_request",
				"x-amz-expires":       "900",
				"x-amz-signedheaders": "host",
			}
			if tt.token != "" {
				want["x-amz-security-token"] = tt.token
			}
			if tt.userAgent != "" {
				want["user-agent"] = tt.userAgent
			}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("payload[%q] = %q, want %q", k, p[k], v)
				}
			}
			if tt.token == "" {
				if _, ok := p["x-amz-security-token"]; ok {
					t.Error("payload has a security token for long-term keys")
				}
			}
			if tt.userAgent == "" && !strings.HasPrefix(p["user-agent"], "franz-go/") {
				t.Errorf("default user-agent = %q, want franz-go's", p["user-agent"])
			}

			v, _ := creds.Retrieve(context.Background())
			if got, want := p["x-amz-signature"], sdkSignature(t, v, testHost, "eu-west-1", at); got != want {
				t.Errorf("signature = %s, the AWS SDK's signer gives %s for the same request", got, want)
			}
			// A signature with other keys must differ: the check above
			// would catch a wrong secret.
			other := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: "not-the-secret", SessionToken: tt.token}
			if p["x-amz-signature"] == sdkSignature(t, other, testHost, "eu-west-1", at) {
				t.Error("signature does not depend on the secret key")
			}
		})
	}
}

// rotatingProvider hands out new keys on every call, as a provider whose
// credentials have just rotated would.
type rotatingProvider struct{ calls atomic.Int32 }

func (p *rotatingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	n := p.calls.Add(1)
	return aws.Credentials{
		AccessKeyID:     fmt.Sprintf("AKIDROTATED%d", n),
		SecretAccessKey: testSecretKey,
		SessionToken:    fmt.Sprintf("token-%d", n),
		CanExpire:       true,
		Expires:         time.Now().Add(time.Hour),
	}, nil
}

func TestMSKIAMRetrievesCredentialsPerConnection(t *testing.T) {
	t.Parallel()
	p := &rotatingProvider{}
	mech := NewMSKIAM(p)
	for i := 1; i <= 3; i++ {
		_, payload, err := mech.Authenticate(context.Background(), testHost+":9098")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatal(err)
		}
		wantKey := fmt.Sprintf("AKIDROTATED%d/", i)
		if !strings.HasPrefix(m["x-amz-credential"], wantKey) || m["x-amz-security-token"] != fmt.Sprintf("token-%d", i) {
			t.Errorf("connection %d signed with %q / %q, want the credentials current at that connection (%s)",
				i, m["x-amz-credential"], m["x-amz-security-token"], wantKey)
		}
	}
}

func TestMSKIAMUsesTheSDKCacheUntilExpiry(t *testing.T) {
	t.Parallel()
	p := &rotatingProvider{}
	mech := NewMSKIAM(aws.NewCredentialsCache(p))
	for range 3 {
		if _, _, err := mech.Authenticate(context.Background(), testHost+":9098"); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("provider called %d times for 3 connections with unexpired credentials, want 1 (cached)", n)
	}
}

type failingProvider struct{ creds aws.Credentials }

func (f failingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	if f.creds.AccessKeyID != "" || f.creds.SecretAccessKey != "" {
		return f.creds, nil
	}
	return aws.Credentials{}, errors.New("no EC2 IMDS role found")
}

func TestMSKIAMCredentialErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    aws.CredentialsProvider
		want string
	}{
		{"provider fails", failingProvider{}, "no EC2 IMDS role found"},
		{"empty secret", failingProvider{creds: aws.Credentials{AccessKeyID: "AKID"}}, "credentials are empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := NewMSKIAM(tt.p).Authenticate(context.Background(), testHost+":9098")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "kafka: MSK IAM") {
				t.Errorf("err = %v, want a kafka: MSK IAM error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestMSKIAMRegionFromHost(t *testing.T) {
	t.Parallel()
	// MSK Serverless and VPC endpoint host names carry the region in
	// different places; the credential scope must name it in both.
	for host, region := range map[string]string{
		"boot-abc123.c2.kafka-serverless.us-east-1.amazonaws.com": "us-east-1",
		"vpce-0123.kafka.ap-southeast-2.vpce.amazonaws.com":       "ap-southeast-2",
	} {
		p := authenticate(t, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""), host)
		if !strings.Contains(p["x-amz-credential"], "/"+region+"/kafka-cluster/aws4_request") {
			t.Errorf("%s: credential scope %q does not name %s", host, p["x-amz-credential"], region)
		}
	}
}
