package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
)

// GatewayTLS returns the credentials with which the gateway dials impactd's
// own gRPC listener when that serves TLS with the certificate in certFile.
//
// The gateway trusts exactly that certificate (it pins it) instead of
// verifying a chain and a host name: it dials its own process, by an address
// (127.0.0.1 for a server on 0.0.0.0) that the certificate, made for the
// name clients use, need not name. Any other certificate is refused, so a
// process that took over the port cannot read the forwarded tokens.
func GatewayTLS(certFile string) (credentials.TransportCredentials, error) {
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("tls cert: %w", err)
	}
	// The server presents the first certificate of the file as its leaf.
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("tls cert %s: no PEM CERTIFICATE block", certFile)
	}
	leaf := block.Bytes
	return credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS12,
		// Chain and name checks are replaced by the pin below.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], leaf) {
				return errors.New("gateway: the gRPC listener presented a certificate other than --tls-cert")
			}
			return nil
		},
	}), nil
}
