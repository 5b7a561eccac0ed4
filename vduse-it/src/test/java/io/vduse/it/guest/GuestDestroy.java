package io.vduse.it.guest;

import io.vduse.core.VduseDevice;
import io.vduse.core.VduseException;
import io.vduse.core.VduseKernel;

/**
 * Destroys a VDUSE device by name in the guest, as another process would, printing
 * {@code DESTROYED} or {@code DESTROY_FAILED} with the SDK's message. Argument: {@code NAME}.
 */
public final class GuestDestroy {

    private GuestDestroy() {}

    public static void main(String[] args) {
        try {
            VduseDevice.destroy(VduseKernel.linux(), args[0]);
            System.out.println("DESTROYED");
        } catch (VduseException e) {
            System.out.println("DESTROY_FAILED " + e.getMessage());
        }
    }
}
