package journal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestRepair(t *testing.T) {
	payloads := testPayloads("ev", 6)
	file, offs := buildFile(payloads...)
	twoHoles := bytes.Clone(file)
	twoHoles[offs[1]+10] ^= 1
	twoHoles[offs[3]+1] ^= 1
	garbage := append(append(bytes.Clone(file[:offs[2]]), bytes.Repeat([]byte{0xee}, 100)...), file[offs[2]:]...)
	tests := []struct {
		name    string
		data    []byte
		want    [][]byte
		dropped []DroppedRange // reasons not compared
	}{
		{"clean", file, payloads, nil},
		{"torn tail", file[:len(file)-5], payloads[:5], []DroppedRange{{Offset: offs[5], Length: offs[6] - offs[5] - 5}}},
		{"two holes", twoHoles, [][]byte{payloads[0], payloads[2], payloads[4], payloads[5]},
			[]DroppedRange{{Offset: offs[1], Length: offs[2] - offs[1]}, {Offset: offs[3], Length: offs[4] - offs[3]}}},
		{"inserted garbage", garbage, payloads, []DroppedRange{{Offset: offs[2], Length: 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFileT(t, tt.data)
			rep, err := Repair(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for i := range rep.Dropped {
				if rep.Dropped[i].Reason == "" {
					t.Errorf("dropped range %d has no reason", i)
				}
				total += rep.Dropped[i].Length
				rep.Dropped[i].Reason = ""
			}
			if fmt.Sprint(rep.Dropped) != fmt.Sprint(tt.dropped) || rep.DroppedBytes != total {
				t.Fatalf("dropped %v (%d bytes), want %v", rep.Dropped, rep.DroppedBytes, tt.dropped)
			}
			if rep.Frames != int64(len(tt.want)) || rep.Bytes != fileSize(t, path) {
				t.Fatalf("report %+v; file is %d bytes", rep, fileSize(t, path))
			}
			if tt.dropped == nil {
				if rep.Backup != "" {
					t.Fatalf("clean file got a backup %s", rep.Backup)
				}
			} else {
				if rep.Backup != path+".bak" {
					t.Fatalf("backup %q", rep.Backup)
				}
				if b, _ := os.ReadFile(rep.Backup); !bytes.Equal(b, tt.data) {
					t.Fatal("the backup is not the original file")
				}
				if fi, _ := os.Stat(rep.Backup); fi.Mode() != 0o600 {
					t.Fatalf("backup mode %v", fi.Mode())
				}
			}
			got, rec := readAllT(t, path)
			samePayloads(t, got, tt.want)
			if rec.DroppedBytes != 0 {
				t.Fatalf("Open after Repair dropped %d bytes", rec.DroppedBytes)
			}
			if v, err := Verify(path, Options{}); err != nil || !v.OK() {
				t.Fatalf("Verify after Repair: %+v, %v", v, err)
			}
		})
	}
}

func TestRepairKeepsEveryBackup(t *testing.T) {
	payloads := testPayloads("ev", 3)
	file, offs := buildFile(payloads...)
	path := filepath.Join(t.TempDir(), "j.dat")
	for i, want := range []string{".bak", ".bak.1", ".bak.2"} {
		b := bytes.Clone(file)
		b[offs[0]+8] ^= byte(i + 1)
		os.WriteFile(path, b, 0o600)
		rep, err := Repair(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Backup != path+want {
			t.Fatalf("repair %d: backup %q, want %q", i, rep.Backup, path+want)
		}
		if got, _ := os.ReadFile(rep.Backup); !bytes.Equal(got, b) {
			t.Fatalf("backup %s does not hold the file before repair %d", rep.Backup, i)
		}
	}
}
