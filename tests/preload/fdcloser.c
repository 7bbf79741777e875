/* Target program: a daemon-style start that closes every descriptor it did not open (the
 * profiler's trigger pipe among them), opens a file that takes over those numbers, then gets
 * SIGUSR2. The file must hold exactly what the program wrote. usage: fdcloser FILE */
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    for (int fd = 3; fd < 256; fd++) close(fd);
    int f = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int g = open(argv[1], O_WRONLY | O_APPEND);
    if (f < 0 || g < 0) return 3;
    raise(SIGUSR2);
    usleep(100000);
    if (write(f, "ok\n", 3) != 3) return 4;
    close(f);
    close(g);
    return 0;
}
