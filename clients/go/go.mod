module spillway.dev/client

go 1.19
