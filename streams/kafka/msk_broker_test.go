package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeMSK is the embedded kfake broker with its SASL requests answered the
// way MSK answers AWS_MSK_IAM: it accepts the mechanism and checks the SigV4
// signature of the payload against the credentials it knows. This is a FAKE
// of MSK's side (MSK cannot run here); the Kafka protocol, the client and
// the mechanism are the real ones.
type fakeMSK struct {
	c      *kfake.Cluster
	secret string

	mu       sync.Mutex
	accepted []string // access keys of accepted authentications
	rejected []error
}

func newFakeMSK(t *testing.T, secret string) *fakeMSK {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	f := &fakeMSK{c: c, secret: secret}
	c.ControlKey(int16(kmsg.SASLHandshake), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.SASLHandshakeRequest)
		resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"AWS_MSK_IAM"}
		if req.Mechanism != "AWS_MSK_IAM" {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.SASLAuthenticateRequest)
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		key, err := f.verify(req.SASLAuthBytes)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			f.rejected = append(f.rejected, err)
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			msg := "Access denied"
			resp.ErrorMessage = &msg
			return resp, nil, true
		}
		f.accepted = append(f.accepted, key)
		resp.SASLAuthBytes = []byte(`{"version":"2020_10_22","request-id":"fake-msk"}`)
		return resp, nil, true
	})
	return f
}

// verify checks the payload's signature with the AWS SDK's signer and the
// secret the fake knows, and returns the access key it was signed with.
func (f *fakeMSK) verify(payload []byte) (string, error) {
	var p map[string]string
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", err
	}
	at, err := time.Parse("20060102T150405Z", p["x-amz-date"])
	if err != nil {
		return "", err
	}
	cred := p["x-amz-credential"]
	ak := cred[:len(cred)-len("/"+at.Format("20060102")+"/eu-west-1/kafka-cluster/aws4_request")]
	want, err := presignSignature(aws.Credentials{AccessKeyID: ak, SecretAccessKey: f.secret, SessionToken: p["x-amz-security-token"]}, p["host"], "eu-west-1", at)
	if err != nil {
		return "", err
	}
	if p["x-amz-signature"] != want || p["action"] != "kafka-cluster:Connect" {
		return "", errors.New("signature does not match")
	}
	return ak, nil
}

// clientFor returns a client whose seed broker is an MSK host name (the
// signing region comes from it) that dials the local fake.
func clientFor(t *testing.T, f *fakeMSK, creds aws.CredentialsProvider) (*kgo.Client, Config) {
	t.Helper()
	addr := f.c.ListenAddrs()[0]
	_, port, _ := net.SplitHostPort(addr)
	cfg := Config{Brokers: []string{testHost + ":" + port}, SASL: NewMSKIAM(creds)}
	cl, err := cfg.NewClient(kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, cfg
}

func TestMSKIAMAuthenticatesOnTheWire(t *testing.T) {
	t.Parallel()
	f := newFakeMSK(t, testSecretKey)
	cl, cfg := clientFor(t, f, credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "session-token"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ping(ctx, cl, cfg.Brokers); err != nil {
		t.Fatalf("Ping through MSK IAM auth: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.accepted) == 0 || f.accepted[0] != testAccessKey || len(f.rejected) != 0 {
		t.Errorf("accepted %v, rejected %v; want one authentication with %s", f.accepted, f.rejected, testAccessKey)
	}
}

func TestMSKIAMWrongSecretIsRefusedOnTheWire(t *testing.T) {
	t.Parallel()
	f := newFakeMSK(t, testSecretKey)
	cl, cfg := clientFor(t, f, credentials.NewStaticCredentialsProvider(testAccessKey, "a-wrong-secret", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := Ping(ctx, cl, cfg.Brokers); err == nil {
		t.Fatal("Ping succeeded with a wrong secret")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.accepted) != 0 || len(f.rejected) == 0 {
		t.Errorf("accepted %v, rejected %d; want every attempt rejected", f.accepted, len(f.rejected))
	}
}
