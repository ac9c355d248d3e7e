/* main.c - the zplan program: a table of subcommands (git-style). */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char plan_usage[] =
    "Usage: zplan [plan] (--params N | --model NAME | --config FILE) [OPTIONS]\n"
    "\n"
    "Search the parallel layouts of a training job, rank those that fit by step time,\n"
    "print the best, its memory per class and its communication, compare the classic\n"
    "strategies, explain what was rejected, and record the run in the database.\n"
    "\n"
    "Model (exactly one):\n"
    "  --params N            parameter count (11e9, 11B, 175b, 7.5e9, 350M): a GPT-3-family\n"
    "                        shape is derived and printed\n"
    "  --model NAME          a preset (zplan models)\n"
    "  --config FILE         a Hugging Face config.json (GPT-2 or LLaMA field names)\n"
    "Cluster:\n"
    "  --gpu NAME            GPU preset (zplan gpus; default a100-80g)\n"
    "  --gpus G              number of GPUs (default 8)\n"
    "  --gpus-per-node N     default: the preset's node size, at most G\n"
    "  --inter-node-gbps X   per-GPU network bandwidth, GB/s (default: the preset's)\n"
    "  --host-mem SIZE       host RAM per node, e.g. 2TiB (default: the preset's)\n"
    "Training:\n"
    "  --seq N               sequence length (default 2048, or the model's positions)\n"
    "  --global-batch N      sequences per optimizer step (default: 1024 rounded up to a multiple of G)\n"
    "  --micro-batch N       pin the micro-batch (otherwise searched)\n"
    "  --dtype T             bf16 (default), fp16 or fp32: parameters and activations\n"
    "  --grad-dtype T        gradient dtype (default: --dtype; fp32 = Megatron main grads)\n"
    "  --master-weights, --no-master-weights   fp32 master copy for 16-bit training (default on)\n"
    "  --optimizer O         adam (default) or sgd (momentum)\n"
    "  --flash-attn, --no-flash-attn           flash attention (default on)\n"
    "  --dropout, --no-dropout                 store dropout masks (default off)\n"
    "Layout (pin any; the rest is searched):\n"
    "  --dp N --tp N --pp N  data, tensor, pipeline parallel degrees\n"
    "  --vp N                interleaved virtual stages per pipeline rank (1: none)\n"
    "  --zero S              ZeRO stage 0..3\n"
    "  --offload W           none, optimizer, optimizer+params\n"
    "  --ckpt C              activation recompute: none, selective, full\n"
    "  --sp, --no-sp         sequence parallelism (default: on when tp > 1)\n"
    "Conventions (README \"Conventions\"):\n"
    "  --zero3-buffer K      prefetch (default) or deepspeed (4 x largest layer)\n"
    "  --zero3-regather R    what ZeRO-3 gathers again for the backward: all (default, the ZeRO\n"
    "                        paper's 3 Psi) or blocks (the head's backward follows its forward)\n"
    "  --bucket-elems N      gradient reduce bucket, elements (default 13107200 = 25 MiB of 16-bit;\n"
    "                        0: per-layer reduction, as FSDP and zplan's engine)\n"
    "  --no-bwd-workspace    leave out the backward workspace (one block's activation gradients)\n"
    "  --cuda-ctx SIZE       CUDA context per process (default: the preset's; 0 for none)\n"
    "  --nccl-mem SIZE       NCCL memory per communicator (default: the preset's; 0 for none)\n"
    "  --frag F              allocator fragmentation, fraction (default 0.05)\n"
    "  --gemm-eff F          achieved fraction of dense peak (default 0.6)\n"
    "  --link-eff F          achieved fraction of link bandwidth (default 0.8)\n"
    "  --overlap-eff F       fraction of overlappable communication that hides (default 0.8)\n"
    "  --units U             gib (default) or gb for printed sizes\n"
    "Output:\n"
    "  --top N               plans to list (default 10)\n"
    "  --json                print one JSON object (schema: README \"JSON output\")\n"
    "  --db PATH             database (default $ZPLAN_DB or ./zplan.db)\n"
    "  --no-store            do not record the run\n"
    "  --report              also draw the run's report (zplan report) into report-RUN_ID/\n"
    "Plan files:\n"
    "  --from FILE.plan      read options from a plan file (key = value lines, see plans/);\n"
    "                        options on the command line override it\n";

static const char models_usage[] =
    "Usage: zplan models [--json]\n\nList the model presets of data/models with their shapes and parameter counts.\n";
static const char gpus_usage[] =
    "Usage: zplan gpus [--json] [--units gib|gb]\n\nList the GPU presets of data/gpus: memory, dense peak FLOP/s per "
    "dtype,\nmemory, NVLink and network bandwidth, node size and host RAM.\n";
static const char list_usage[] =
    "Usage: zplan list [--db PATH] [--json]\n\nList the recorded planning runs, newest first.\n";
static const char show_usage[] =
    "Usage: zplan show [ID] [--db PATH] [--json] [--units gib|gb]\n\nPrint a recorded run (default: the latest) as "
    "it was answered; --json prints\nthe stored result object.\n";
static const char report_usage[] =
    "Usage: zplan report [RUN_ID...] [--out DIR] [--format png|svg|both] [--top N] [--db PATH]\n\n"
    "Draw a recorded run (default: the latest) with gnuplot into DIR (default report-RUN_ID/):\n"
    "strategy comparison, scaling with the number of GPUs per ZeRO stage, the top plans'\n"
    "step time and memory, communication by collective, memory per pipeline stage, and\n"
    "predicted vs measured once executions exist; each chart with its .dat and .gp, plus\n"
    "index.html and report.md with the same tables.  With several runs and --out, one\n"
    "report-RUN_ID/ each inside DIR.  The directory appears only when complete.\n\n"
    "  --format F   png (default), svg or both\n"
    "  --top N      plans in the top-plans chart (default 10)\n"
    "Environment: ZPLAN_GNUPLOT names the gnuplot program (default: gnuplot in PATH).\n";
static const char exec_usage[] =
    "Usage: zplan exec ID[/N]|FILE.plan [--np N] [--steps K] [--scale SPEC] [--device-mem SIZE]\n"
    "                  [--hostfile F] [--timeout S] [--profile NAME] [--backend cpu|cuda]\n"
    "                  [--db PATH] [--json]\n\n"
    "Run plan N (default 1, the best) of planning run ID, or the best plan of a plan file\n"
    "(planned and recorded first, as zplan --from FILE), for real: MPI ranks (mpirun) of\n"
    "zplan-engine train a GPT-style decoder in the plan's data-parallel / ZeRO layout, and\n"
    "the measured memory per class, bytes per collective, losses and step time are\n"
    "recorded beside the planner's prediction for the same scaled model.\n\n"
    "  --np N          ranks (default: the plan's dp; each rank is one replica)\n"
    "  --steps K       training steps (default 10)\n"
    "  --scale SPEC    shrink the model, keeping the layout: key=value,... with layers,\n"
    "                  hidden, heads, vocab, seq, micro_batch, accum; or a parameter count\n"
    "                  (20M: a GPT-2-like shape within 10 %, 64-wide heads, vocabulary 256\n"
    "                  and sequence at most 256 unless given, e.g. 20M,seq=128); default\n"
    "                  for models over 1e8 parameters: layers=2,hidden=64,heads=4,vocab=256,\n"
    "                  seq=64,micro_batch=2,accum=2\n"
    "  --device-mem S  cap on the device pool (default: the GPU's memory scaled as the model)\n"
    "  --hostfile F    Open MPI hostfile for several machines\n"
    "  --timeout S     end a hung run after S seconds (default 600)\n"
    "  --profile NAME  the hardware profile of zplan calibrate for the predicted step time\n"
    "                  (default local-cpu; without one, no step time is predicted)\n"
    "  --backend B     cpu (default: MPI ranks on CPUs, OpenBLAS) or cuda (ranks on the\n"
    "                  visible GPUs: cuBLAS, NCCL; more ranks than GPUs share them, their\n"
    "                  collectives staged through host memory); on a GPU the runtime's\n"
    "                  memory (context, cuBLAS, NCCL) is measured and kept as the profile\n"
    "                  <gpu>-cuda, which the planner takes with --gpu <gpu>-cuda\n"
    "Progress (step, loss, time) goes to stderr.  A run ended early - Ctrl-C, a rank that\n"
    "died, a hung one after --timeout - is recorded (interrupted / failed) with the losses\n"
    "and step time of the steps it finished.\n"
    "Not yet: tensor and pipeline layouts.\n";
static const char calibrate_usage[] =
    "Usage: zplan calibrate [--np N] [--name NAME] [--hostfile F] [--timeout S] [--backend cpu]\n"
    "                       [--db PATH] [--json]\n\n"
    "Measure this machine's CPU ranks as zplan exec runs them (N ranks of zplan-engine\n"
    "at once, OpenBLAS with one thread each): sgemm FLOP/s at square sizes and at the\n"
    "engine's shapes, the AdamW pass, memcpy between pools, and the MPI all-reduce,\n"
    "reduce-scatter and all-gather at several sizes, fitted as latency per ring step +\n"
    "bus bytes / bandwidth.  The result is stored in the database as a hardware profile\n"
    "in the GPU preset format: plan with --gpu NAME, and zplan exec predicts step times\n"
    "with it.\n\n"
    "  --np N        ranks (default 2)\n"
    "  --name NAME   the profile's name (default local-cpu)\n"
    "  --json        print the profile as JSON\n";
static const char help_usage[] = "Usage: zplan help [COMMAND]\n\nShow general help, or a command's options.\n";

const zp_cmd zp_commands[] = {
    {"plan", zp_cmd_plan, "plan layouts for a model on a cluster (the default command)", plan_usage},
    {"models", zp_cmd_models, "list model presets", models_usage},
    {"gpus", zp_cmd_gpus, "list GPU presets", gpus_usage},
    {"list", zp_cmd_list, "list recorded runs", list_usage},
    {"show", zp_cmd_show, "show a recorded run", show_usage},
    {"report", zp_cmd_report, "draw a recorded run's charts and tables (gnuplot)", report_usage},
    {"exec", zp_cmd_exec, "run a recorded plan on MPI ranks and measure it", exec_usage},
    {"calibrate", zp_cmd_calibrate, "measure this machine's CPU ranks as a hardware profile", calibrate_usage},
    {"help", zp_cmd_help, "show help for a command", help_usage},
    {NULL, NULL, NULL, NULL},
};

const zp_cmd *zp_cmd_find(const char *name)
{
    for (const zp_cmd *c = zp_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
    zp_cli cli = {"zplan", NULL, {ZP_OK, ""}};
    char cmdline[2048] = "zplan";
    size_t used = 5;
    for (int i = 1; i < argc && used < sizeof cmdline - 1; i++) {
        int w = snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    cli.cmdline = cmdline;
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("zplan %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return zp_cmd_help(&cli, 1, argv);
    if (argc < 2)
        return zp_cmd_help(&cli, 1, argv), 2;
    if (argv[1][0] == '-')
        return zp_cmd_plan(&cli, argc, argv);   /* the default command */
    const zp_cmd *c = zp_cmd_find(argv[1]);
    if (!c) {
        snprintf(cli.err.msg, sizeof cli.err.msg,
                 "'%s' is not a zplan command (allowed: plan, models, gpus, list, show, report, exec, calibrate, help; see zplan --help)",
                 argv[1]);
        return zp_fail(&cli, ZP_EINVAL);
    }
    return c->fn(&cli, argc - 1, argv + 1);
}
