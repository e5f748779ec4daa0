package journal

import (
	"bytes"
	"os"
	"testing"
)

func TestVerify(t *testing.T) {
	payloads := testPayloads("ev", 4)
	file, offs := buildFile(payloads...)
	corrupt := bytes.Clone(file)
	corrupt[offs[1]+9] ^= 1
	tests := []struct {
		name string
		data []byte
		want VerifyReport
	}{
		{"clean", file, VerifyReport{Version: Version, Size: int64(len(file)), Frames: 4, Bytes: int64(len(file)), BadOffset: -1, NextValid: -1}},
		{"torn", file[:len(file)-3], VerifyReport{Version: Version, Size: int64(len(file) - 3), Frames: 3, Bytes: offs[3], BadOffset: offs[3], NextValid: -1}},
		{"corrupt", corrupt, VerifyReport{Version: Version, Size: int64(len(file)), Frames: 1, Bytes: offs[1], BadOffset: offs[1], NextValid: offs[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFileT(t, tt.data)
			got, err := Verify(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Path = path
			if (got.Reason == "") != tt.want.OK() {
				t.Fatalf("reason %q for OK=%v", got.Reason, tt.want.OK())
			}
			got.Reason = ""
			if got != tt.want {
				t.Fatalf("Verify = %+v, want %+v", got, tt.want)
			}
			if got.TornTail() != (tt.name == "torn") {
				t.Fatalf("TornTail() = %v", got.TornTail())
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, tt.data) {
				t.Fatal("Verify changed the file")
			}
		})
	}
}
