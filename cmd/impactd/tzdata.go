package main

// The engine computes with its own embedded zone database
// (impact.TZDataVersion); time/tzdata backs every other time.LoadLocation
// of the binary, so that no zone depends on the host having
// /usr/share/zoneinfo (impact/doc.go, "Time zones").
import _ "time/tzdata"
