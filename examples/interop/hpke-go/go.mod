module accord.example/interop/hpke-go

go 1.26
