// Command testca makes throwaway TLS certificates for tests: a CA (made once
// per folder, then reused) and a server certificate it signs, for the names
// given. Only a test's browser trusts the CA (Chromium's
// --ignore-certificate-errors-spki-list with the SPKI hash this prints).
//
//	testca --dir DIR --name laptop.tailnet.test [--days 30] [--not-before-days 0] [--new-key]
//
// writes DIR/ca.pem, DIR/ca-key.pem, DIR/cert.pem (the server certificate
// followed by the CA) and DIR/key.pem (0600), and prints one JSON line:
//
//	{"cert":"DIR/cert.pem","key":"DIR/key.pem","ca":"DIR/ca.pem","caSpki":"base64 sha256"}
//
// --new-key makes a new server key even if DIR/key.pem exists (a key that no
// longer matches an older cert.pem); by default the key is kept.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

func main() {
	dir := flag.String("dir", "", "the folder for the CA and the certificate (required)")
	var dnsNames names
	flag.Var(&dnsNames, "name", "a DNS name the certificate is for (repeatable; at least one)")
	days := flag.Int("days", 30, "days the certificate is valid from now (negative: expired that many days ago)")
	newKey := flag.Bool("new-key", false, "make a new server key even if key.pem exists")
	flag.Parse()
	if *dir == "" || len(dnsNames) == 0 {
		fmt.Fprintln(os.Stderr, "testca: --dir and at least one --name are required")
		os.Exit(2)
	}
	if err := run(*dir, dnsNames, *days, *newKey); err != nil {
		fmt.Fprintln(os.Stderr, "testca:", err)
		os.Exit(1)
	}
}

func run(dir string, dnsNames []string, days int, newKey bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := loadOrMakeCA(dir)
	if err != nil {
		return err
	}
	key, err := loadOrMakeKey(filepath.Join(dir, "key.pem"), newKey)
	if err != nil {
		return err
	}
	now := time.Now()
	notAfter := now.Add(time.Duration(days) * 24 * time.Hour)
	notBefore := now.Add(-time.Hour)
	if days < 0 {
		notBefore = notAfter.Add(-30 * 24 * time.Hour)
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})...)
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), chain, 0o644); err != nil {
		return err
	}
	spki := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	out, _ := json.Marshal(map[string]string{
		"cert":   filepath.Join(dir, "cert.pem"),
		"key":    filepath.Join(dir, "key.pem"),
		"ca":     filepath.Join(dir, "ca.pem"),
		"caSpki": base64.StdEncoding.EncodeToString(spki[:]),
	})
	fmt.Printf("%s\n", out)
	return nil
}

func loadOrMakeCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if _, err := os.Stat(certPath); err == nil {
		key, err := readKey(keyPath)
		if err != nil {
			return nil, nil, err
		}
		raw, err := os.ReadFile(certPath)
		if err != nil {
			return nil, nil, err
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, nil, errors.New(certPath + " holds no PEM certificate")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		return cert, key, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Handoff test CA (throwaway)"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func loadOrMakeKey(path string, fresh bool) (*ecdsa.PrivateKey, error) {
	if !fresh {
		if _, err := os.Stat(path); err == nil {
			return readKey(path)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return key, writeKey(path, key)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New(path + " holds no PEM key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New(path + " is not an ECDSA key")
	}
	return key, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}
