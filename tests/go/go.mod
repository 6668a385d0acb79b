module example.com/nanowal

go 1.19
