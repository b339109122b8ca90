package proxywasm

// Shared data and queues are shared by all VMs with the same vm_id (in
// Envoy: every worker thread). Values returned are arena memory, valid
// only until the current callback returns.

// GetSharedData returns the value stored under key and its CAS number;
// ErrNotFound if absent.
func GetSharedData(key string) (value []byte, cas uint32, err error) {
	var addr, size uint32
	if err := statusError(proxyGetSharedData(key, &addr, &size, &cas)); err != nil {
		return nil, 0, err
	}
	value, err = hostBytes(addr, size)
	if err != nil {
		return nil, 0, err
	}
	return value, cas, nil
}

// SetSharedData stores value under key. cas 0 writes unconditionally;
// otherwise the write fails with ErrCasMismatch unless cas is the key's
// current CAS number (a missing key is always written).
func SetSharedData(key string, value []byte, cas uint32) error {
	return statusError(proxySetSharedData(key, bytesView(value), cas))
}

// RegisterSharedQueue creates (or opens) the queue name owned by this VM;
// OnQueueReady fires on the registering plugin context when items arrive.
func RegisterSharedQueue(name string) (queueID uint32, err error) {
	if err := statusError(proxyRegisterSharedQueue(name, &queueID)); err != nil {
		return 0, err
	}
	return queueID, nil
}

// ResolveSharedQueue finds the queue name registered by a VM with vmID.
func ResolveSharedQueue(vmID, name string) (queueID uint32, err error) {
	if err := statusError(proxyResolveSharedQueue(vmID, name, &queueID)); err != nil {
		return 0, err
	}
	return queueID, nil
}

// EnqueueSharedQueue appends data to a queue.
func EnqueueSharedQueue(queueID uint32, data []byte) error {
	return statusError(proxyEnqueueSharedQueue(queueID, bytesView(data)))
}

// DequeueSharedQueue removes the oldest item; ErrEmpty if there is none.
func DequeueSharedQueue(queueID uint32) ([]byte, error) {
	var addr, size uint32
	if err := statusError(proxyDequeueSharedQueue(queueID, &addr, &size)); err != nil {
		return nil, err
	}
	return hostBytes(addr, size)
}
