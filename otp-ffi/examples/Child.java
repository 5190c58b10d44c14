/*
 * A child program in Java, as a host application (Documentum, Alfresco, a
 * batch job) starts it: with the two keys as its only arguments. It calls
 * libotp_link through JNA (Debian package libjna-java), no subprocess.
 *
 *     javac -cp /usr/share/java/jna.jar -d classes otp-ffi/examples/Child.java
 *     OTP_LINK_STORE=/srv/app/store.cbor \
 *       java -cp classes:/usr/share/java/jna.jar -Djna.library.path=target/release \
 *       Child USER_KEY PASS_KEY
 *
 * It recovers the credentials from the store at the default location
 * ($OTP_LINK_STORE, else the per-user data directory) and, like the C and
 * Rust children, prints only their lengths and a fingerprint that tests can
 * compare. On failure it prints the library's one-line message and exits
 * with the return code, otp-link's exit code for the same failure.
 */

import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.ptr.ByReference;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

public final class Child {
    /** C's size_t, whatever its width here. */
    public static final class SizeT extends IntegerType {
        public SizeT() {
            this(0);
        }

        public SizeT(long value) {
            super(Native.SIZE_T_SIZE, value, true);
        }
    }

    /** A size_t the library writes (size_t *). */
    public static final class SizeTByReference extends ByReference {
        public SizeTByReference() {
            super(Native.SIZE_T_SIZE);
        }

        public long getValue() {
            return Native.SIZE_T_SIZE == 8
                    ? getPointer().getLong(0)
                    : getPointer().getInt(0) & 0xffffffffL;
        }
    }

    /** The functions and constants of otp_link.h this child uses. */
    public interface OtpLink extends Library {
        int OTP_LINK_ABI_VERSION = 1;
        int OTP_LINK_MAX_VALUE_LEN = 99;
        int OTP_LINK_OK = 0;

        int otp_link_abi_version();

        int otp_link_recover(byte[] store, byte[] userKey, byte[] passKey,
                Memory userBuf, SizeT userCap, SizeTByReference userLen,
                Memory passBuf, SizeT passCap, SizeTByReference passLen);

        int otp_link_last_error(byte[] buf, SizeT cap, SizeTByReference len);
    }

    /** A Java string as a NUL-terminated UTF-8 C string. */
    static byte[] cString(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(utf8, utf8.length + 1);
    }

    /** The same non-secret digest (FNV-1a) the C and Rust children print. */
    static long fingerprint(byte[] value) {
        long h = 0xcbf29ce484222325L;
        for (byte b : value) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: Child USER_KEY PASS_KEY");
            System.exit(2);
        }
        OtpLink lib = Native.load("otp_link", OtpLink.class);
        if (lib.otp_link_abi_version() != OtpLink.OTP_LINK_ABI_VERSION) {
            System.err.println("Child: libotp_link has ABI version " + lib.otp_link_abi_version()
                    + ", this program was written for " + OtpLink.OTP_LINK_ABI_VERSION);
            System.exit(1);
        }

        // Native buffers, which can be wiped (a Java array passed to JNA is
        // copied to memory the program never sees again).
        Memory user = new Memory(OtpLink.OTP_LINK_MAX_VALUE_LEN);
        Memory pass = new Memory(OtpLink.OTP_LINK_MAX_VALUE_LEN);
        SizeTByReference userLen = new SizeTByReference();
        SizeTByReference passLen = new SizeTByReference();
        byte[] userKey = cString(args[0]);
        byte[] passKey = cString(args[1]);
        int code = lib.otp_link_recover(null, userKey, passKey,
                user, new SizeT(user.size()), userLen,
                pass, new SizeT(pass.size()), passLen);
        Arrays.fill(userKey, (byte) 0);
        Arrays.fill(passKey, (byte) 0);
        if (code != OtpLink.OTP_LINK_OK) {
            byte[] message = new byte[1024];
            SizeTByReference messageLen = new SizeTByReference();
            lib.otp_link_last_error(message, new SizeT(message.length), messageLen);
            System.err.println("Child: " + new String(message, 0, (int) messageLen.getValue(),
                    StandardCharsets.UTF_8));
            System.exit(code);
        }

        byte[] username = user.getByteArray(0, (int) userLen.getValue());
        byte[] password = pass.getByteArray(0, (int) passLen.getValue());
        user.clear();
        pass.clear();
        // Here a real child connects: DriverManager.getConnection(url,
        // new String(username, UTF_8), new String(password, UTF_8)). Never
        // print or log the values themselves.
        long print = fingerprint(username) ^ Long.rotateLeft(fingerprint(password), 1);
        System.out.printf("recovered a %d-byte username and a %d-byte password; fingerprint %016x%n",
                username.length, password.length, print);
        Arrays.fill(username, (byte) 0);
        Arrays.fill(password, (byte) 0);
    }
}
