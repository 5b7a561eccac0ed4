package io.vduse.it.vhost;

/** The device answered a virtio-blk request wrongly: bad used element, status, length or data. */
public final class BlkCheckException extends Exception {

    private static final long serialVersionUID = 1L;

    BlkCheckException(String message) {
        super(message);
    }
}
